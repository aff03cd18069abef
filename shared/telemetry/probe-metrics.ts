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

/** True in a real Lambda (not in the local runner or tests, where EMF lines would only be noise). */
export function inLambda(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME && env.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda_'));
}

/**
 * Writes the tick's metric lines to stdout in Lambda (straight to stdout, as
 * Powertools Metrics does, so Lambda's console prefix does not break the JSON).
 */
export function emitProbeMetrics(
  events: readonly Pick<TraceEvent, 'endpoint' | 'ok' | 'ts'>[],
  options: { write?: (line: string) => void; env?: Record<string, string | undefined> } = {},
): void {
  const env = options.env ?? process.env;
  if (!options.write && !inLambda(env)) return;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const namespace = env.PROBE_METRICS_NAMESPACE?.trim() || PROBE_METRIC.namespace;
  for (const document of probeMetricDocuments(events, namespace)) write(JSON.stringify(document));
}
