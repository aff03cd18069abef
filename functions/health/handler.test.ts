import { afterEach, describe, expect, it } from 'vitest';
import { invokeHttp, setEnv } from '../../test/helpers.js';
import { handler } from './handler.js';

describe('GET /health', () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it('reports versions, the upstream and a healthy store', async () => {
    const res = await invokeHttp(handler, { path: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<{
      ok: boolean;
      upstream: string;
      versions: { app: string; node: string };
      store: { table: { ok: boolean; status: string; name: string }; artifacts: { ok: boolean } };
    }>();
    expect(body.ok).toBe(true);
    expect(body.upstream).toBe('simulated');
    expect(body.versions.app).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.versions.node).toBe(process.version);
    expect(body.store.table).toMatchObject({ ok: true, status: 'ACTIVE', name: 'openai-status' });
    expect(body.store.artifacts.ok).toBe(true);
  });

  it('answers 503 naming the failing part when the table is missing', async () => {
    restore = setEnv({ TABLE_NAME: 'no-such-table' });
    const res = await invokeHttp(handler, { path: '/health' });
    expect(res.statusCode).toBe(503);
    const body = res.json<{
      ok: boolean;
      store: { table: { ok: boolean; detail: string }; artifacts: { ok: boolean } };
    }>();
    expect(body.ok).toBe(false);
    expect(body.store.table).toMatchObject({ ok: false, detail: 'ResourceNotFoundException' });
    expect(body.store.artifacts.ok).toBe(true);
  });

  it('says upstream is real when a key is configured, and never shows the key', async () => {
    restore = setEnv({ OPENAI_API_KEY: 'sk-test-should-never-appear' });
    const res = await invokeHttp(handler, { path: '/health' });
    expect(res.json<{ upstream: string }>().upstream).toBe('real');
    expect(res.text).not.toContain('sk-test');
  });
});
