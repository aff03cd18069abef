/**
 * `npm start`: reads `.env` if present (the environment wins over it),
 * validates the configuration, starts the local stack and prints where
 * everything is. A bad value exits with one line naming it. Ctrl-C stops
 * cleanly, letting runs in progress finish.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../../shared/config.js';
import { banner, PROJECT_ROOT, startLocalStack } from './runner.js';

const started = performance.now();
const envFile = resolve(PROJECT_ROOT, '.env');
if (existsSync(envFile)) {
  for (const [name, value] of Object.entries(parseEnv(readFileSync(envFile, 'utf8')))) {
    process.env[name] ??= value;
  }
}

try {
  const stack = await startLocalStack(process.env);
  console.log(banner(stack, performance.now() - started));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.stop();
    console.log('stopped; data kept in', stack.store.dataDir ?? '(memory: discarded)');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
  const { code, message } = error as NodeJS.ErrnoException;
  console.error(
    `error: could not start: ${code === 'EADDRINUSE' ? `${message} (set PORT to use another port)` : message}`,
  );
  process.exit(1);
}
