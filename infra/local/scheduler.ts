/**
 * The local stand-in for EventBridge schedules: fires each scheduled function
 * with a scheduled-event payload at its rate. Ticks are aligned to multiples
 * of the interval (as `rate()` schedules are), and a tick that comes while the
 * previous run is still going is skipped rather than stacked.
 */
import type { ScheduledEvent } from 'aws-lambda';
import { logger } from '../../shared/logger.js';
import { scheduledEvent } from './lambda.js';

export interface ScheduledJob {
  name: string;
  intervalMs: number;
  run: (event: ScheduledEvent) => Promise<unknown>;
}

export interface Scheduler {
  /** Stops firing and waits for runs in progress. */
  stop(): Promise<void>;
}

export function startScheduler(jobs: readonly ScheduledJob[], region?: string): Scheduler {
  const timers = new Set<NodeJS.Timeout>();
  const running = new Map<string, Promise<unknown>>();
  let stopped = false;

  // `after` is the tick just fired: timers can fire a millisecond before Date.now() reaches
  // their time, and the next tick must still be the one after it, not the same one again.
  const schedule = (job: ScheduledJob, after = 0) => {
    if (stopped) return;
    const now = Date.now();
    const next = (Math.floor(Math.max(now, after) / job.intervalMs) + 1) * job.intervalMs;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fire(job, next);
      schedule(job, next);
    }, next - now);
    timers.add(timer);
  };

  const fire = (job: ScheduledJob, time: number) => {
    if (running.has(job.name)) {
      logger.warn('scheduled run skipped: the previous one is still running', { function: job.name });
      return;
    }
    const run = Promise.resolve()
      .then(() =>
        job.run(scheduledEvent({ ruleName: `${job.name}-schedule`, time, ...(region ? { region } : {}) })),
      )
      .catch((error: unknown) =>
        logger.error('scheduled run failed', { function: job.name, error: error as Error }),
      )
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
  };

  for (const job of jobs) schedule(job);
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all(running.values());
    },
  };
}
