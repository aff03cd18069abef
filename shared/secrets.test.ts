import { afterEach, describe, expect, it, vi } from 'vitest';
import { setEnv } from '../test/helpers.js';
import { getConfig } from './config.js';
import { loadSecrets, SECRET_KEYS, SECRET_PLACEHOLDER, secretValues } from './secrets.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-status-AbCdEf';

describe('loadSecrets', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  it('holds the secret variables of the configuration', () => {
    expect(SECRET_KEYS).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'INGEST_API_KEY']));
  });

  it('does nothing without SECRET_ARN (local runs)', async () => {
    restore = setEnv({ SECRET_ARN: undefined, OPENAI_API_KEY: 'sk-local' });
    const fetcher = vi.fn();
    await loadSecrets(fetcher);
    expect(fetcher).not.toHaveBeenCalled();
    expect(getConfig().openaiApiKey).toBe('sk-local');
  });

  it('makes the values available to getConfig, with the ARN from SECRET_ARN', async () => {
    restore = setEnv({
      SECRET_ARN: ARN,
      OPENAI_API_KEY: undefined,
      INGEST_API_KEY: undefined,
      CURSOR_SECRET: undefined,
    });
    expect(getConfig().openaiApiKey).toBeUndefined();
    const fetcher = vi.fn(async () => ({ OPENAI_API_KEY: 'sk-cloud', INGEST_API_KEY: 'ingest-key-123' }));
    await loadSecrets(fetcher);
    expect(fetcher).toHaveBeenCalledWith(ARN);
    expect(getConfig()).toMatchObject({
      openaiApiKey: 'sk-cloud',
      upstream: 'real',
      ingestApiKey: 'ingest-key-123',
    });
  });

  it('accepts the JSON text as well as the parsed object', async () => {
    restore = setEnv({
      SECRET_ARN: ARN,
      OPENAI_API_KEY: undefined,
      INGEST_API_KEY: undefined,
      CURSOR_SECRET: undefined,
    });
    await loadSecrets(async () => JSON.stringify({ OPENAI_API_KEY: 'sk-text', INGEST_API_KEY: '' }));
    expect(getConfig().openaiApiKey).toBe('sk-text');
    expect(getConfig().ingestApiKey).toBeUndefined();
  });

  it('treats the placeholder and empty values as unset, and unsets keys removed from the secret', async () => {
    restore = setEnv({
      SECRET_ARN: ARN,
      OPENAI_API_KEY: undefined,
      INGEST_API_KEY: undefined,
      CURSOR_SECRET: undefined,
    });
    await loadSecrets(async () => ({ OPENAI_API_KEY: 'sk-first', INGEST_API_KEY: 'ingest-key-123' }));
    expect(getConfig().openaiApiKey).toBe('sk-first');
    await loadSecrets(async () => ({ OPENAI_API_KEY: SECRET_PLACEHOLDER, INGEST_API_KEY: '  ' }));
    expect(getConfig()).toMatchObject({
      openaiApiKey: undefined,
      upstream: 'simulated',
      ingestApiKey: undefined,
    });
  });

  it('keeps the cached configuration when nothing changed', async () => {
    restore = setEnv({
      SECRET_ARN: ARN,
      OPENAI_API_KEY: undefined,
      INGEST_API_KEY: undefined,
      CURSOR_SECRET: undefined,
    });
    const fetcher = async () => ({ OPENAI_API_KEY: 'sk-same' });
    await loadSecrets(fetcher);
    const first = getConfig();
    await loadSecrets(fetcher);
    expect(getConfig()).toBe(first);
  });

  it('refuses a secret that is not a JSON object, without echoing it', async () => {
    restore = setEnv({ SECRET_ARN: ARN, CURSOR_SECRET: undefined });
    const error = await loadSecrets(async () => 'sk-not-json').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/not a JSON object/);
    expect((error as Error).message).not.toContain('sk-not-json');
    await expect(loadSecrets(async () => ['a'])).rejects.toThrow(/not a JSON object/);
  });

  it('also reads the cursor key from its own secret (CURSOR_SECRET_ARN), which wins for that key', async () => {
    const cursorArn = `${ARN}-cursor`;
    restore = setEnv({
      SECRET_ARN: ARN,
      CURSOR_SECRET_ARN: cursorArn,
      OPENAI_API_KEY: undefined,
      CURSOR_SECRET: undefined,
    });
    const fetcher = vi.fn(async (arn: string) =>
      arn === cursorArn
        ? { CURSOR_SECRET: 'generated-cursor-key-0123456789' }
        : { OPENAI_API_KEY: 'sk-cloud', CURSOR_SECRET: SECRET_PLACEHOLDER },
    );
    await loadSecrets(fetcher);
    expect(fetcher).toHaveBeenCalledTimes(2);
    expect(getConfig()).toMatchObject({
      openaiApiKey: 'sk-cloud',
      cursorSecret: 'generated-cursor-key-0123456789',
    });
    // A function given only the cursor secret (traces) gets only the cursor key.
    restore();
    restore = setEnv({ SECRET_ARN: undefined, CURSOR_SECRET_ARN: cursorArn, CURSOR_SECRET: undefined });
    await loadSecrets(async () => ({ CURSOR_SECRET: 'generated-cursor-key-0123456789' }));
    expect(getConfig().cursorSecret).toBe('generated-cursor-key-0123456789');
  });

  it('ignores unknown keys and non-string values', () => {
    expect(secretValues({ OPENAI_API_KEY: 42, OTHER: 'x', INGEST_API_KEY: ' key-12345 ' })).toMatchObject({
      OPENAI_API_KEY: undefined,
      INGEST_API_KEY: 'key-12345',
    });
    expect(secretValues({})).not.toHaveProperty('OTHER');
  });
});
