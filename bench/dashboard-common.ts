/**
 * What bench/dashboard.ts and bench/dashboard-status.ts both need before
 * Lighthouse runs: the built dashboard, a free port for Chromium's DevTools
 * endpoint, and the load average printed beside every score.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** The 1, 5 and 15 minute load averages: scores are simulated from observed task times, which load stretches. */
export const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

/** Builds the dashboard (web/dist) when it is missing. */
export function buildDashboardIfMissing(): void {
  if (existsSync(join(ROOT, 'web', 'dist', 'index.html'))) return;
  const built = spawnSync('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('vite build failed');
}

/** A free loopback port for Chromium's DevTools endpoint (Lighthouse connects to it). */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}
