import { describe, expect, it } from 'vitest';
import { parseGoDuration, readOpenAIHeaders } from './headers.js';

describe('parseGoDuration', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['120ms', 120],
    ['1h2m3.5s', 3_723_500],
    ['0.5s', 500],
    ['20us', 0.02],
    ['20µs', 0.02],
    ['1500ns', 0.002],
    ['0s', 0],
    ['2h', 7_200_000],
    ['1m30.25s', 90_250],
    [' 3s ', 3000],
  ] as const)('%j → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '   ', 'abc', '5', '1.5', 's', '-1s', '+1s', '.5s', '1d', '1 s', '1sx', '1s garbage', 'ms'])(
    '%j is not a duration',
    (text) => {
      expect(parseGoDuration(text)).toBeUndefined();
    },
  );

  it('treats null and undefined as absent', () => {
    expect(parseGoDuration(null)).toBeUndefined();
    expect(parseGoDuration(undefined)).toBeUndefined();
  });
});

describe('readOpenAIHeaders', () => {
  const lookup = (record: Record<string, string>) => (name: string) => record[name];

  it('reads every fact from a Headers object', () => {
    const headers = new Headers({
      'X-Request-Id': 'req_123',
      'OpenAI-Processing-Ms': '87',
      'x-ratelimit-limit-requests': '5000',
      'x-ratelimit-remaining-requests': '4999',
      'x-ratelimit-reset-requests': '12ms',
      'x-ratelimit-limit-tokens': '2000000',
      'x-ratelimit-remaining-tokens': '1999990',
      'x-ratelimit-reset-tokens': '1m0.5s',
    });
    expect(readOpenAIHeaders((name) => headers.get(name))).toEqual({
      requestId: 'req_123',
      processingMs: 87,
      rateLimit: {
        limitRequests: 5000,
        remainingRequests: 4999,
        resetRequestsMs: 12,
        limitTokens: 2_000_000,
        remainingTokens: 1_999_990,
        resetTokensMs: 60_500,
      },
    });
  });

  it('returns an empty object when no header is there (absent stays absent, never 0)', () => {
    const facts = readOpenAIHeaders(() => null);
    expect(facts).toEqual({});
    expect('rateLimit' in facts).toBe(false);
    expect(readOpenAIHeaders(lookup({}))).toEqual({});
  });

  it('keeps zero when the header says zero', () => {
    expect(
      readOpenAIHeaders(
        lookup({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '0s' }),
      ),
    ).toEqual({ rateLimit: { remainingRequests: 0, resetRequestsMs: 0 } });
  });

  it('drops garbage values one by one and keeps the rest', () => {
    const facts = readOpenAIHeaders(
      lookup({
        'x-request-id': '   ',
        'openai-processing-ms': '12.5',
        'x-ratelimit-limit-requests': 'many',
        'x-ratelimit-remaining-requests': '-1',
        'x-ratelimit-reset-requests': 'soon',
        'x-ratelimit-limit-tokens': '1e6',
        'x-ratelimit-remaining-tokens': ' 42 ',
        'x-ratelimit-reset-tokens': '1.5',
      }),
    );
    expect(facts).toEqual({ rateLimit: { remainingTokens: 42 } });
  });

  it('drops every rate-limit field when all are garbage', () => {
    const facts = readOpenAIHeaders(
      lookup({ 'x-request-id': 'req_9', 'x-ratelimit-limit-requests': '', 'x-ratelimit-reset-tokens': '' }),
    );
    expect(facts).toEqual({ requestId: 'req_9' });
  });

  it('trims the request id', () => {
    expect(readOpenAIHeaders(lookup({ 'x-request-id': ' req_1 ' })).requestId).toBe('req_1');
  });
});
