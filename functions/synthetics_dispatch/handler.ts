import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { scheduledHandler } from '../../shared/lambda-stack.js';
import { dispatchDueMonitors } from '../../shared/synthetics/dispatch.js';

/** Time kept back from the Lambda timeout for the last run's writes. */
const WRITE_RESERVE_MS = 5000;

/** Fired on the probe schedule: runs every monitor whose slot has come (shared/synthetics/dispatch.ts). */
export const handler = scheduledHandler(async (event, context) =>
  dispatchDueMonitors({
    config: getConfig(),
    now: Date.parse(event.time) || clock.now(),
    budgetMs: Math.max(1000, context.getRemainingTimeInMillis() - WRITE_RESERVE_MS),
  }),
);
