/**
 * The probe's CloudWatch metric, written as Embedded Metric Format (EMF) log
 * lines: CloudWatch extracts them from the function's logs, with no
 * PutMetricData call and no SDK client at cold start.
 *
 * One metric per endpoint: `ProbeFailed` is 1 for a failed probe and 0 for a
 * good one, so its Average over a period is the endpoint's failure rate and
 * its SampleCount the number of probes. One metric rather than an ok/failed
 * pair halves the custom-metric bill (about $0.30 per metric per month), and
 * the alarm needs no metric math. The stack builds its alarms from these names.
 */
import { getConfig, type Platform } from '../config.js';
import type { TraceEvent } from '../events/model.js';

export const PROBE_METRIC = {
  /** Default namespace; the stack sets PROBE_METRICS_NAMESPACE per stack so two deployments do not mix. */
  namespace: 'OpenAiStatus',
  name: 'ProbeFailed',
  dimension: 'endpoint',
} as const;

/** The EMF documents for a tick's events: one per endpoint, all its results as values. */
export function probeMetricDocuments(
  events: readonly Pick<TraceEvent, 'endpoint' | 'ok' | 'ts'>[],
  namespace: string = PROBE_METRIC.namespace,
): Record<string, unknown>[] {
  const byEndpoint = new Map<string, { ts: number; values: number[] }>();
  for (const event of events) {
    const entry = byEndpoint.get(event.endpoint) ?? { ts: event.ts, values: [] };
    entry.values.push(event.ok ? 0 : 1);
    byEndpoint.set(event.endpoint, entry);
  }
  return [...byEndpoint].map(([endpoint, { ts, values }]) => ({
    _aws: {
      Timestamp: ts,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [[PROBE_METRIC.dimension]],
          Metrics: [{ Name: PROBE_METRIC.name, Unit: 'Count' }],
        },
      ],
    },
    [PROBE_METRIC.dimension]: endpoint,
    [PROBE_METRIC.name]: values.length === 1 ? values[0] : values,
  }));
}

/**
 * Writes the tick's metric lines to stdout in Lambda (straight to stdout, as
 * Powertools Metrics does, so Lambda's console prefix does not break the JSON).
 */
export function emitProbeMetrics(
  events: readonly Pick<TraceEvent, 'endpoint' | 'ok' | 'ts'>[],
  options: {
    write?: (line: string) => void;
    platform?: Pick<Platform, 'inLambda' | 'metricsNamespace'>;
  } = {},
): void {
  const platform = options.platform ?? getConfig().platform;
  if (!options.write && !platform.inLambda) return;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const namespace = platform.metricsNamespace ?? PROBE_METRIC.namespace;
  for (const document of probeMetricDocuments(events, namespace)) write(JSON.stringify(document));
}
