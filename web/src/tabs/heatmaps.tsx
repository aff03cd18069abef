/** Heatmaps: latency percentiles over time by endpoint, and error types over time. */
import { useMemo } from 'preact/hooks';
import { Heatmap } from '../charts/Heatmap';
import { Async, EmptyState, Panel } from '../components';
import { hasData, pointTimes, useEndpointSeries } from '../data';
import { duration, ms, num } from '../format';
import { useShared, useStore } from '../state';
import { displayText } from '../text';
import type { ErrorType } from '../types';

const METRICS = ['p50', 'p95', 'p99'] as const;
type Metric = (typeof METRICS)[number];

export function HeatmapsTab() {
  const { params, set } = useStore();
  const { config } = useShared();
  const metric = (METRICS.includes(params.metric as Metric) ? params.metric : 'p95') as Metric;
  const { grouped, overall } = useEndpointSeries(params, params.endpoint);

  const latency = useMemo(() => {
    const data = grouped.data;
    if (!data) return undefined;
    return {
      rows: data.series.map((s) => s.key),
      times: pointTimes(data),
      values: data.series.map((s) => s.points.map((p) => p[metric])),
      bucketMs: data.bucketMs,
    };
  }, [grouped.data, metric]);

  const errors = useMemo(() => {
    const data = overall.data;
    const first = data?.series[0];
    if (!data || !first) return undefined;
    const types = config?.errorTypes ?? [
      ...new Set(first.points.flatMap((p) => Object.keys(p.errors) as ErrorType[])),
    ];
    const seen = types.filter((t) => first.points.some((p) => (p.errors[t] ?? 0) > 0));
    return {
      rows: seen,
      all: types,
      times: pointTimes(data),
      values: seen.map((t) => first.points.map((p) => (p.total > 0 ? (p.errors[t] ?? 0) : null))),
      bucketMs: data.bucketMs,
    };
  }, [overall.data, config]);

  return (
    <div class="stack">
      <Panel
        title="Latency by endpoint"
        subtitle={
          latency ? `${metric} per ${duration(latency.bucketMs)}, log colour scale: redder is slower` : metric
        }
        testId="latency-heatmap-panel"
        actions={
          <fieldset class="segmented" aria-label="Percentile">
            <legend class="visually-hidden">Percentile</legend>
            {METRICS.map((m) => (
              <button
                key={m}
                type="button"
                class="seg"
                aria-pressed={metric === m}
                onClick={() => set({ metric: m === 'p95' ? undefined : m })}
              >
                {m}
              </button>
            ))}
          </fieldset>
        }
      >
        <Async state={grouped} what="the latency heatmap" isEmpty={(d) => !hasData(d)} box="box-heat-latency">
          {() =>
            latency ? (
              <Heatmap
                rows={latency.rows}
                times={latency.times}
                values={latency.values}
                format={ms}
                log
                label={`${metric} latency by endpoint over time`}
                testId="latency-heatmap"
              />
            ) : null
          }
        </Async>
      </Panel>

      <Panel
        title="Errors by type"
        subtitle={
          errors
            ? `failed calls per ${duration(errors.bucketMs)}${params.endpoint ? ` · ${displayText(params.endpoint)}` : ''}`
            : 'failed calls'
        }
        testId="error-heatmap-panel"
      >
        <Async state={overall} what="the error heatmap" isEmpty={(d) => !hasData(d)} box="box-heat-errors">
          {() =>
            errors && errors.rows.length > 0 ? (
              <Heatmap
                rows={errors.rows}
                times={errors.times}
                values={errors.values}
                format={(v) => `${num(v)} failed`}
                zeroIsEmpty
                label="Errors by type over time"
                testId="error-heatmap"
              />
            ) : (
              <EmptyState title="No errors in this range">
                Every call in this range succeeded. Error types tracked: {errors?.all.join(', ')}.
              </EmptyState>
            )
          }
        </Async>
      </Panel>
    </div>
  );
}
