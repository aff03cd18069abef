/**
 * The probe's CloudWatch metric, written by Powertools Metrics as Embedded
 * Metric Format (EMF) log lines: CloudWatch extracts them from the function's
 * logs, with no PutMetricData call and no SDK client at cold start.
 *
 * One metric per endpoint: `ProbeFailed` is 1 for a failed probe and 0 for a
 * good one, so its Average over a period is the endpoint's failure rate and
 * its SampleCount the number of probes. One metric rather than an ok/failed
 * pair halves the custom-metric bill (about $0.30 per metric per month), and
 * the alarm needs no metric math. The stack builds its alarms from these names
 * (Powertools adds the `service` dimension to every metric, so the alarms name it too).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { getConfig, type Platform } from '../config.js';
import type { TraceEvent } from '../events/model.js';

export const PROBE_METRIC = {
  /** Default namespace; the stack sets PROBE_METRICS_NAMESPACE per stack so two deployments do not mix. */
  namespace: 'OpenAiStatus',
  name: 'ProbeFailed',
  dimension: 'endpoint',
  /** The `service` dimension Powertools adds to every metric. */
  service: 'openai-status',
} as const;

/** The results of a tick grouped by endpoint (1 per failure, 0 per success), with the first result's time. */
function resultsByEndpoint(
  events: readonly Pick<TraceEvent, 'endpoint' | 'ok' | 'ts'>[],
): Map<string, { ts: number; values: number[] }> {
  const byEndpoint = new Map<string, { ts: number; values: number[] }>();
  for (const event of events) {
    const entry = byEndpoint.get(event.endpoint) ?? { ts: event.ts, values: [] };
    entry.values.push(event.ok ? 0 : 1);
    byEndpoint.set(event.endpoint, entry);
  }
  return byEndpoint;
}

/**
 * Writes the tick's metric lines (one EMF document per endpoint, at the time
 * of its first probe) to stdout in Lambda. Outside Lambda nothing is written:
 * the lines would only clutter the local log.
 */
export function emitProbeMetrics(
  events: readonly Pick<TraceEvent, 'endpoint' | 'ok' | 'ts'>[],
  options: { platform?: Pick<Platform, 'inLambda' | 'metricsNamespace'> } = {},
): void {
  const platform = options.platform ?? getConfig().platform;
  if (!platform.inLambda || events.length === 0) return;
  const metrics = new Metrics({
    namespace: platform.metricsNamespace ?? PROBE_METRIC.namespace,
    serviceName: PROBE_METRIC.service,
  });
  for (const [endpoint, { ts, values }] of resultsByEndpoint(events)) {
    metrics.addDimension(PROBE_METRIC.dimension, endpoint);
    for (const value of values) metrics.addMetric(PROBE_METRIC.name, MetricUnit.Count, value);
    metrics.setTimestamp(ts);
    // One document per endpoint: publishing clears the metrics and the endpoint dimension.
    metrics.publishStoredMetrics();
  }
}
