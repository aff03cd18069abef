/**
 * POST /synthetics/{id}/run, apart from the rest of the API (api.ts): only
 * the function that starts a browser bundles the runners and playwright-core.
 */

import { clock } from '../clock.js';
import type { Config } from '../config.js';
import { HttpProblem, validate } from '../http/problem.js';
import { rejectUnknown } from '../http/query.js';
import * as z from '../zod.js';
import { runView } from './links.js';
import { existing, monitorId } from './lookup.js';
import { RunBudgetExceeded, runMonitor } from './run.js';

/** POST /synthetics/{id}/run: runs it now (`?runner=http` forces the HTTP runner). */
export async function runNow(
  pathParameters: Readonly<Record<string, string>>,
  query: Readonly<Record<string, string>>,
  config: Config,
) {
  rejectUnknown(query, ['runner']);
  const runner = validate(z.object({ runner: z._default(z.enum(['auto', 'http']), 'auto') }), query).runner;
  const monitor = await existing(config, monitorId(pathParameters));
  try {
    const run = await runMonitor(monitor, { config, trigger: 'manual', runner });
    return runView(run, config, clock.now());
  } catch (error) {
    if (error instanceof RunBudgetExceeded) {
      throw new HttpProblem(429, 'Too Many Requests', error.message, { headers: { 'retry-after': '60' } });
    }
    throw error;
  }
}
