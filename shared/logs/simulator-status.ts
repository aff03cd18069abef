/**
 * The log simulator's switch as the dashboard sees it: kept apart from the
 * simulator's writer (shared/logs/simulator.ts), so the functions that only
 * report it (GET /logs/status) do not bundle trace ingestion.
 */
import { getConfig } from '../config.js';
import { type LogSimulatorState, readLogSimulatorState } from '../store/logs.js';

export interface SimulatorStatus {
  running: boolean;
  /** `api` (start/stop), `config` (LOG_SIM_ENABLED, no switch stored yet). */
  source: 'api' | 'config';
  changedAt: number | null;
  writtenUpTo: number | null;
  lines: number;
  intervalMs: number;
}

export function statusOf(state: LogSimulatorState | undefined): SimulatorStatus {
  const config = getConfig();
  return {
    running: state ? state.running : config.logSimEnabled,
    source: state && state.changedBy !== 'config' ? 'api' : 'config',
    changedAt: state?.changedAt ?? null,
    writtenUpTo: state?.writtenUpTo ?? null,
    lines: state?.lines ?? 0,
    intervalMs: config.logSimIntervalMs,
  };
}

export async function logSimulatorStatus(): Promise<SimulatorStatus> {
  return statusOf(await readLogSimulatorState(getConfig().tableName));
}
