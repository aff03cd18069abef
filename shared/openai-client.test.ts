import { describe, expect, it } from 'vitest';
import { loadedOpenAiSdk, type OpenAiClientOptions, openaiClient } from './openai-client.js';

const options: OpenAiClientOptions = {
  apiKey: 'sk-test',
  baseURL: 'http://127.0.0.1:9/v1',
  timeoutMs: 1234,
  maxRetries: 3,
};

describe('openaiClient', () => {
  it('imports the SDK only when a client is first asked for', async () => {
    expect(loadedOpenAiSdk()).toBeUndefined();
    await openaiClient('chat', options);
    // The module itself: describeLlmError's `instanceof sdk.APIError` sees the SDK's own errors.
    const sdk = await import('openai');
    expect(loadedOpenAiSdk()?.APIError).toBe(sdk.APIError);
  });

  it('makes the client with the given key, base URL, timeout and retries', async () => {
    const client = await openaiClient('draft', options);
    expect(client.apiKey).toBe('sk-test');
    expect(client.baseURL).toBe('http://127.0.0.1:9/v1');
    expect(client.timeout).toBe(1234);
    expect(client.maxRetries).toBe(3);
  });

  it('gives the simulator a placeholder key, and the SDK its default base URL without one', async () => {
    const client = await openaiClient('embeddings', { apiKey: undefined, timeoutMs: 1000, maxRetries: 0 });
    expect(client.apiKey).toBe('simulated');
    expect(client.baseURL).toBe('https://api.openai.com/v1');
  });

  it('keeps one client per use while its options stay the same, and replaces it when they change', async () => {
    const first = await openaiClient('probe', options);
    expect(await openaiClient('probe', { ...options })).toBe(first);
    expect(await openaiClient('chat', options)).not.toBe(first);
    const rekeyed = await openaiClient('probe', { ...options, apiKey: 'sk-other' });
    expect(rekeyed).not.toBe(first);
    expect(rekeyed.apiKey).toBe('sk-other');
    expect(await openaiClient('probe', { ...options, apiKey: 'sk-other' })).toBe(rekeyed);
    expect(await openaiClient('probe', { ...options, apiKey: 'sk-other', timeoutMs: 99 })).not.toBe(rekeyed);
  });

  it('sends through the given fetch, and a different fetch makes a new client', async () => {
    const urls: string[] = [];
    const recording: typeof fetch = async (input) => {
      urls.push(String(input instanceof Request ? input.url : input));
      return new Response(JSON.stringify({ object: 'list', data: [] }), {
        headers: { 'content-type': 'application/json' },
      });
    };
    const client = await openaiClient('probe', { ...options, fetch: recording });
    await client.models.list();
    expect(urls).toEqual(['http://127.0.0.1:9/v1/models']);
    const other: typeof fetch = (input, init) => recording(input, init);
    expect(await openaiClient('probe', { ...options, fetch: other })).not.toBe(client);
  });
});
