import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/config.js';
import { CURSOR_SECRET_FILE, localCursorSecret } from './cursor-secret.js';

describe('localCursorSecret', () => {
  const root = mkdtempSync(join(tmpdir(), 'openai-status-cursor-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('generates a random key on first start, keeps it private in the data directory, and reuses it', () => {
    const dataDir = join(root, 'fresh', '.data');
    const first = localCursorSecret(dataDir);
    expect(first).toMatchObject({ origin: 'created', file: join(dataDir, CURSOR_SECRET_FILE) });
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(dataDir, CURSOR_SECRET_FILE), 'utf8').trim()).toBe(first.secret);
    expect(statSync(join(dataDir, CURSOR_SECRET_FILE)).mode & 0o777).toBe(0o600);
    // A second start reads the same key; another data directory gets another.
    expect(localCursorSecret(dataDir)).toEqual({ ...first, origin: 'kept' });
    expect(localCursorSecret(join(root, 'other')).secret).not.toBe(first.secret);
  });

  it('makes a fresh key per start when data is in memory', () => {
    const a = localCursorSecret(undefined);
    expect(a).toMatchObject({ origin: 'memory', file: undefined });
    expect(localCursorSecret(undefined).secret).not.toBe(a.secret);
  });

  it('refuses a file without a usable key, and never overwrites it', () => {
    const dataDir = join(root, 'broken');
    localCursorSecret(dataDir);
    writeFileSync(join(dataDir, CURSOR_SECRET_FILE), 'short\n');
    expect(() => localCursorSecret(dataDir)).toThrow(ConfigError);
    expect(() => localCursorSecret(dataDir)).toThrow(/delete the file to generate a new one/);
    expect(readFileSync(join(dataDir, CURSOR_SECRET_FILE), 'utf8')).toBe('short\n');
  });
});
