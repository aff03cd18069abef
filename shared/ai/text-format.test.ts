import { zodTextFormat } from 'openai/helpers/zod';
import { describe, expect, it } from 'vitest';
import { modelDraft } from '../synthetics/draft.js';
import { textFormat } from './text-format.js';

const draft = {
  name: 'Docs search',
  start_url: 'https://example.com/',
  every_minutes: null,
  steps: [
    {
      action: 'expectTitle',
      url: null,
      target_kind: null,
      target_value: null,
      target_name: null,
      text: 'Example',
      key: null,
      status: null,
    },
  ],
};

describe('textFormat', () => {
  it("sends the model the same strict schema as openai's zodTextFormat", () => {
    const ours = textFormat(modelDraft, 'synthetic_monitor');
    const theirs = zodTextFormat(modelDraft, 'synthetic_monitor');
    expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(theirs)));
    // The field descriptions are what guides the model: they survive the conversion.
    expect(JSON.stringify(ours.schema)).toContain('A short name for the monitor');
    expect(ours.strict).toBe(true);
  });

  it('parses an answer with the schema, and refuses one that does not fit', () => {
    const format = textFormat(modelDraft, 'synthetic_monitor');
    expect(format.$parseRaw(JSON.stringify(draft))).toEqual(draft);
    expect(() => format.$parseRaw(JSON.stringify({ ...draft, every_minutes: 1.5 }))).toThrow(/every_minutes/);
    expect(() => format.$parseRaw('not json')).toThrow(SyntaxError);
  });
});
