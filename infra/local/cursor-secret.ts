/**
 * The local CURSOR_SECRET (the key that signs `/traces` cursors): generated
 * from 32 random bytes on the first `npm start` and kept in
 * `<DATA_DIR>/cursor-secret` (mode 600), so cursors stay valid across
 * restarts. CURSOR_SECRET in the environment or `.env` wins and no file is
 * written. With ENABLE_DB=0 there is no data directory: each start makes a
 * fresh key, which dies with the in-memory data it pages through.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../shared/config.js';

export const CURSOR_SECRET_FILE = 'cursor-secret';

/** Shortest key accepted from the file (the same floor as CURSOR_SECRET). */
const MIN_LENGTH = 16;

export interface LocalCursorSecret {
  secret: string;
  /** `created`: written now; `kept`: read from an earlier start; `memory`: no data directory. */
  origin: 'created' | 'kept' | 'memory';
  /** The file holding it, when there is one. */
  file: string | undefined;
}

const generate = () => randomBytes(32).toString('base64url');

/**
 * The key kept in `dataDir`, created there on first use. Throws ConfigError
 * when the file exists but holds no usable key (it is never overwritten).
 */
export function localCursorSecret(dataDir: string | undefined): LocalCursorSecret {
  if (!dataDir) return { secret: generate(), origin: 'memory', file: undefined };
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, CURSOR_SECRET_FILE);
  try {
    // `wx`: only if absent, so two starts racing on one directory end up with the same key.
    writeFileSync(file, `${generate()}\n`, { flag: 'wx', mode: 0o600 });
    return { secret: readKey(file), origin: 'created', file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return { secret: readKey(file), origin: 'kept', file };
}

function readKey(file: string): string {
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < MIN_LENGTH) {
    throw new ConfigError(
      'CURSOR_SECRET',
      `Invalid ${file}: expected a key of at least ${MIN_LENGTH} characters (delete the file to generate a new one, or set CURSOR_SECRET)`,
    );
  }
  return secret;
}
