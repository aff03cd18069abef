/**
 * The dispatcher: one scheduled function (on the probe schedule) runs every
 * monitor whose schedule slot has come, rather than one schedule per monitor.
 * A monitor every N seconds owns the slots [k·N, (k+1)·N); the first tick in
 * a slot claims it with a conditional write (store/synthetics.ts claimSlot),
 * so overlapping ticks never run it twice, and a tick that runs out of time
 * leaves the rest unclaimed for the next tick.
 */
import type { Config } from '../config.js';
import { logger } from '../logger.js';
import { claimSlot, listMonitors, type MonitorRecord } from '../store/synthetics.js';
import { RunBudgetExceeded, runMonitor } from './run.js';

export interface DispatchResult {
  /** Monitor ids run this tick, in order. */
  ran: string[];
  /** Due, but left for a later tick (out of time or run budget). */
  deferred: string[];
  failed: string[];
}

/** The start of the schedule slot holding `now`, or undefined for a monitor without a schedule. */
export function slotStart(monitor: MonitorRecord, now: number): number | undefined {
  const schedule = monitor.spec.schedule;
  if (schedule === 'off') return undefined;
  const ms = schedule.everySec * 1000;
  return Math.floor(now / ms) * ms;
}

export function dueMonitors(monitors: readonly MonitorRecord[], now: number): MonitorRecord[] {
  return monitors.filter((m) => {
    const slot = slotStart(m, now);
    return slot !== undefined && (m.lastSlot === undefined || m.lastSlot < slot);
  });
}

/**
 * Runs the due monitors one after another while `budgetMs` lasts (measured on
 * the monotonic clock; the slot times come from `now`, the tick's time).
 */
export async function dispatchDueMonitors(input: {
  config: Config;
  now: number;
  budgetMs: number;
  /** Longest a run may take: no run starts with less time than this left. */
  runAllowanceMs?: number;
}): Promise<DispatchResult> {
  const { config, now } = input;
  const started = performance.now();
  const result: DispatchResult = { ran: [], deferred: [], failed: [] };
  const due = dueMonitors(await listMonitors(config.tableName), now);
  for (const monitor of due) {
    const allowance = input.runAllowanceMs ?? 2 * monitor.spec.timeoutMs + 10_000;
    if (performance.now() - started + allowance > input.budgetMs) {
      result.deferred.push(monitor.id);
      continue;
    }
    const slot = slotStart(monitor, now) as number;
    if (!(await claimSlot(config.tableName, monitor.id, slot))) continue;
    try {
      await runMonitor(monitor, { config, trigger: 'schedule' });
      result.ran.push(monitor.id);
    } catch (error) {
      if (error instanceof RunBudgetExceeded) {
        result.deferred.push(monitor.id);
        logger.warn('scheduled synthetic run skipped: run budget spent', { monitor: monitor.id });
        continue;
      }
      result.failed.push(monitor.id);
      logger.error('scheduled synthetic run failed', { monitor: monitor.id, error: error as Error });
    }
  }
  return result;
}
