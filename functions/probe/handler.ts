import { clock } from '../../shared/clock.js';
import { scheduledHandler } from '../../shared/lambda-stack.js';
import { scheduledProbeTick } from '../../shared/probes/runner.js';

/** Time kept back from the Lambda timeout for writing the results. */
const WRITE_RESERVE_MS = 3000;

/**
 * Fired by the schedule every PROBE_INTERVAL_SEC: runs this tick's probes and
 * records them (shared/probes/runner.ts). Only a failure to store them fails
 * the invocation (and shows in the function's error metric).
 */
export const handler = scheduledHandler(async (event, context) =>
  scheduledProbeTick({
    tickTime: Date.parse(event.time) || clock.now(),
    budgetMs: Math.max(1000, context.getRemainingTimeInMillis() - WRITE_RESERVE_MS),
  }),
);
