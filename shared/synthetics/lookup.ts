/** A monitor named by a request's path: its id checked, then read (404 when there is none). */
import type { Config } from '../config.js';
import { HttpProblem } from '../http/problem.js';
import { getMonitor, type MonitorRecord } from '../store/synthetics.js';

export const MONITOR_ID = /^m_[0-9a-f]{10}$/;

export function monitorId(pathParameters: Readonly<Record<string, string>>): string {
  const id = pathParameters.id ?? '';
  if (!MONITOR_ID.test(id))
    throw new HttpProblem(404, 'Not Found', `No monitor "${id.slice(0, 40)}"`, { field: 'id' });
  return id;
}

export async function existing(config: Config, id: string): Promise<MonitorRecord> {
  const monitor = await getMonitor(config.tableName, id);
  if (!monitor) throw new HttpProblem(404, 'Not Found', `No monitor "${id}"`, { field: 'id' });
  return monitor;
}
