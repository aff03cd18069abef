/**
 * `GET /metrics`: the rollups in the Prometheus text exposition format
 * (version 0.0.4), for Prometheus or an OpenTelemetry Collector's prometheus
 * receiver. Per source, endpoint, model and region:
 * - `openai_status_requests_total{outcome="success"|"failure"}` (counter),
 * - `openai_status_errors_total{error_type}` (counter),
 * - `openai_status_latency_ms` (histogram: `_bucket{le}`, `_sum`, `_count`).
 *
 * Counters count since 00:00 UTC of the current day, so a scrape reads at
 * most one day of rollups (compact hours, whatever the traffic); at midnight
 * they start again from 0, which rate() and increase() take as a counter
 * reset. Label sets are capped at MAX_SERIES (the busiest kept, the rest
 * summed under `other`), so cardinality is bounded whatever users ingest.
 */
import type { Config } from '../config.js';
import { ERROR_TYPES, SOURCES } from '../events/model.js';
import { type Aggregate, addRollupItem, emptyAggregate, mergeAggregate } from '../stats/aggregate.js';
import { bucketIndex } from '../stats/histogram.js';
import { DAY_MS, floorTo } from '../store/keys.js';
import { readCost, rollupsFor } from '../store/rollups.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Label sets exposed at most (each is 2 + error types + 14 histogram series). */
export const MAX_SERIES = 100;
/** Histogram bounds in ms. A log bucket of the rollups straddling a bound counts under it: within 1% of the bound. */
export const LATENCY_BOUNDS_MS = [
  50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000, 30_000, 60_000,
] as const;
const OTHER = 'other';

interface Series {
  labels: { source: string; endpoint: string; model: string; region: string };
  aggregate: Aggregate;
}

const escapeLabel = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(',')}}`;

/** Today's rollups per label set, the busiest MAX_SERIES kept and the rest merged under `other`. */
export async function collectSeries(config: Config, now: number) {
  const reader = rollupsFor({ config, now });
  const items = await reader.read({
    sources: [...SOURCES],
    from: floorTo(now, DAY_MS),
    to: now + 1,
    byLabelSet: true,
  });
  const groups = new Map<string, Series>();
  for (const item of items) {
    const labels = { source: item.source, endpoint: item.endpoint, model: item.model, region: item.region };
    const key = JSON.stringify(labels);
    let series = groups.get(key);
    if (!series) {
      series = { labels, aggregate: emptyAggregate() };
      groups.set(key, series);
    }
    addRollupItem(series.aggregate, item);
  }
  const busiest = [...groups.values()].sort(
    (a, b) =>
      b.aggregate.total - a.aggregate.total ||
      JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)),
  );
  const kept = busiest.slice(0, MAX_SERIES - 1);
  const rest = busiest.slice(MAX_SERIES - 1);
  if (rest.length === 1) kept.push(rest[0] as Series);
  else if (rest.length > 1) {
    const other: Series = {
      labels: { source: OTHER, endpoint: OTHER, model: OTHER, region: OTHER },
      aggregate: emptyAggregate(),
    };
    for (const series of rest) mergeAggregate(other.aggregate, series.aggregate);
    kept.push(other);
  }
  return { series: kept, cost: readCost(reader) };
}

export async function renderMetrics(config: Config, now: number): Promise<string> {
  const { series } = await collectSeries(config, now);
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: () => void) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    samples();
  };
  family('openai_status_requests_total', 'counter', 'Executions since 00:00 UTC today, by outcome.', () => {
    for (const { labels, aggregate } of series) {
      lines.push(
        `openai_status_requests_total${labelText({ ...labels, outcome: 'success' })} ${aggregate.ok}`,
      );
      lines.push(
        `openai_status_requests_total${labelText({ ...labels, outcome: 'failure' })} ${aggregate.total - aggregate.ok}`,
      );
    }
  });
  family(
    'openai_status_errors_total',
    'counter',
    'Failed executions since 00:00 UTC today, by error type.',
    () => {
      for (const { labels, aggregate } of series)
        for (const type of ERROR_TYPES)
          if (aggregate.errors[type] > 0)
            lines.push(
              `openai_status_errors_total${labelText({ ...labels, error_type: type })} ${aggregate.errors[type]}`,
            );
    },
  );
  family(
    'openai_status_latency_ms',
    'histogram',
    'Latency, request start to last body byte, in ms, since 00:00 UTC today.',
    () => {
      const bounds = LATENCY_BOUNDS_MS.map((le) => ({ le, index: bucketIndex(le) }));
      for (const { labels, aggregate } of series) {
        const buckets = aggregate.latency.buckets();
        for (const { le, index } of bounds) {
          const count = buckets.reduce((n, b) => (b.index <= index ? n + b.count : n), 0);
          lines.push(`openai_status_latency_ms_bucket${labelText({ ...labels, le: String(le) })} ${count}`);
        }
        lines.push(
          `openai_status_latency_ms_bucket${labelText({ ...labels, le: '+Inf' })} ${aggregate.total}`,
        );
        lines.push(
          `openai_status_latency_ms_sum${labelText(labels)} ${Math.round(aggregate.latencySum * 1000) / 1000}`,
        );
        lines.push(`openai_status_latency_ms_count${labelText(labels)} ${aggregate.total}`);
      }
    },
  );
  return `${lines.join('\n')}\n`;
}
