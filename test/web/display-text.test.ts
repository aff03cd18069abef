/**
 * The dashboard's displayText (web/src/text.ts) and the CSV export's
 * neutralizeBidi (shared/text.ts): bidirectional controls shown as visible
 * tokens, everything else untouched, the two the same (the dashboard cannot
 * import shared code at run time), and no way for data to reach the DOM as HTML.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../shared/events/model.js';
import { neutralizeBidi } from '../../shared/text.js';
import { csvCell, csvRow } from '../../shared/traces/export.js';
import { displayText } from '../../web/src/text.js';

const CONTROLS = [
  0x061c,
  0x200e,
  0x200f,
  ...Array.from({ length: 5 }, (_, i) => 0x202a + i),
  ...Array.from({ length: 4 }, (_, i) => 0x2066 + i),
];
const hex = (code: number) => code.toString(16).toUpperCase().padStart(4, '0');
const hasControl = (text: string) => CONTROLS.some((code) => text.includes(String.fromCodePoint(code)));

describe('displayText', () => {
  it('shows every bidirectional control as its code point', () => {
    expect(CONTROLS).toHaveLength(12);
    for (const code of CONTROLS) {
      expect(displayText(`a${String.fromCodePoint(code)}b`)).toBe(`a[U+${hex(code)}]b`);
    }
  });

  it('defuses a label that reverses what it shows', () => {
    // Displays as "invoice-exe.pdf" when the override is honoured.
    const spoofed = 'invoice-\u202Efdp.exe';
    expect(displayText(spoofed)).toBe('invoice-[U+202E]fdp.exe');
    expect(hasControl(displayText(`\u2066gpt-4o\u2069 \u202Bx\u202C \u200F\u061C\u200E`))).toBe(false);
  });

  it('leaves every other character alone: right-to-left letters, joiners, emoji, markup', () => {
    for (const text of [
      'chat',
      'gpt-4o-mini',
      'مرحبا بالعالم',
      'שלום',
      'a\u200Db\u200Cc\u2060d',
      '\u2065\u206A\u202F\u2029',
      '👩🏽‍💻',
      '<img src=x onerror=alert(1)>',
      '',
    ]) {
      expect(displayText(text)).toBe(text);
    }
  });

  it('treats every character the same as the CSV export does', () => {
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const text = `x${String.fromCharCode(code)}y`;
      if (displayText(text) !== neutralizeBidi(text)) {
        expect.fail(`U+${hex(code)}: dashboard and CSV differ`);
      }
    }
  });
});

describe('CSV export', () => {
  it('neutralises bidirectional controls in text cells, with the formula guard still in force', () => {
    expect(csvCell('invoice-\u202Efdp.exe')).toBe('invoice-[U+202E]fdp.exe');
    expect(csvCell('\u202A=HYPERLINK("http://x")')).toBe('"[U+202A]=HYPERLINK(""http://x"")"');
    expect(csvCell('=1+1\u202E')).toBe("'=1+1[U+202E]");
    expect(csvCell(12.5)).toBe('12.5');
  });

  it('writes no bidirectional control from any label of an event', () => {
    const row = csvRow({
      id: 'e1',
      ts: 1_700_000_000_000,
      source: 'ingest',
      endpoint: 'chat\u202E',
      model: '\u2067gpt-4o\u2069',
      region: 'us\u200Fwest',
      ok: false,
      errorType: 'server_error',
      errorMessage: 'boom \u061C here',
      latencyMs: 12,
    } satisfies TraceEvent);
    expect(hasControl(row)).toBe(false);
    expect(row).toContain('chat[U+202E]');
    expect(row).toContain('[U+2067]gpt-4o[U+2069]');
  });
});

describe('the dashboard source', () => {
  const WEB_SRC = resolve(import.meta.dirname, '../../web/src');
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
    );

  it('never renders data as HTML', () => {
    const sources = files(WEB_SRC).filter((file) => /\.tsx?$/.test(file));
    expect(sources.length).toBeGreaterThan(10);
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(
        /dangerouslySetInnerHTML|\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write/,
      );
    }
  });
});
