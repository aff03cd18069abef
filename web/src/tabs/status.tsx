/** Status: the overall state, latency and success charts with incidents, and a card per endpoint. */
import type { VNode } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ApiState } from '../api';
import { type ChartSeries, TimeChart } from '../charts/TimeChart';
import { Async, EmptyState, Panel } from '../components';
import { burnSeries, hasData, pointTimes, useEndpointSeries, useIncidents } from '../data';
import { duration, ms, msAxis, num, pct } from '../format';
import { useShared, useStore } from '../state';
import { displayText } from '../text';
import type { EndpointSummary, StatusAnswer, TimeseriesAnswer } from '../types';
import {
  HealthPill,
  healthOf,
  IncidentList,
  LastResultText,
  Percentiles,
  SloWidget,
  Sparkline,
  Stat,
} from '../widgets';
import { FiringAlerts, useAlerts } from './firing';

const NO_LATENCY = { p50: null, p95: null, p99: null };

/** The overview's shape before /status answers: the same boxes, figures as dashes (nothing moves when it answers). */
function placeholderStatus(objectivePercent: number): StatusAnswer {
  const slo = {
    sli: null,
    good: 0,
    valid: 0,
    errorBudgetRemaining: null,
    burnRate: { '1h': null, '6h': null },
  };
  return {
    slo: { objectivePercent, excludedErrors: [] },
    overall: { total: 0, ok: 0, failed: 0, successRate: null, latencyMs: NO_LATENCY, slo },
    endpoints: [],
  } as unknown as StatusAnswer;
}

function Overview(props: {
  status: StatusAnswer;
  endpoint: string | undefined;
  series: TimeseriesAnswer | undefined;
  loading?: boolean;
}) {
  const { status } = props;
  const objective = status.slo.objectivePercent;
  const chosen = props.endpoint ? status.endpoints.find((e) => e.endpoint === props.endpoint) : undefined;
  const view = chosen ?? status.overall;
  const failing = status.endpoints.filter((e) => healthOf(e.successRate, objective) !== 'ok' && e.total > 0);
  const worst = failing.some((e) => healthOf(e.successRate, objective) === 'down') ? 'down' : 'degraded';
  const overallHealth = status.overall.total === 0 ? 'none' : failing.length === 0 ? 'ok' : worst;
  const headline = props.loading
    ? 'Loading the status…'
    : overallHealth === 'none'
      ? 'No recent results'
      : overallHealth === 'ok'
        ? 'All endpoints operational'
        : `${failing.length} endpoint${failing.length > 1 ? 's' : ''} below the objective`;
  // Always one line (ellipsis, full text on hover): its presence or length never moves the figures below.
  const below =
    failing.length > 0
      ? `Below objective: ${displayText(failing.map((e) => e.endpoint).join(', '))}`
      : props.loading
        ? '…'
        : overallHealth === 'ok'
          ? `Every endpoint meets the ${objective}% objective`
          : 'Nothing recorded in this range';
  const first = props.series?.series[0];
  const burn = first
    ? {
        x: pointTimes(props.series as TimeseriesAnswer),
        values: burnSeries(first, objective, status.slo.excludedErrors),
      }
    : undefined;
  return (
    <section
      class={`overview tone-${overallHealth}`}
      aria-label="Overall status"
      data-testid="overview"
      aria-busy={props.loading ? 'true' : undefined}
    >
      <div class="overview-head">
        <HealthPill health={overallHealth} />
        <h2 class="overview-title">{headline}</h2>
        <p class="muted small overview-below" title={below}>
          {below}
        </p>
      </div>
      <div class="stats">
        <Stat
          label={chosen ? `Success rate · ${displayText(chosen.endpoint)}` : 'Success rate'}
          value={pct(view.successRate)}
          tone={healthOf(view.successRate, objective)}
        />
        <Stat label="p50" value={ms(view.latencyMs.p50)} />
        <Stat label="p95" value={ms(view.latencyMs.p95)} />
        <Stat label="p99" value={ms(view.latencyMs.p99)} />
        <Stat label="Calls" value={num(view.total)} note={`${num(view.failed)} failed`} />
      </div>
      <SloWidget
        slo={view.slo}
        objectivePercent={objective}
        burn={burn}
        xRange={props.series ? [props.series.from, props.series.to] : undefined}
        title={chosen ? displayText(chosen.endpoint) : undefined}
        reserveSpark
      />
    </section>
  );
}

function EndpointCard(props: {
  summary: EndpointSummary;
  objective: number;
  points: TimeseriesAnswer['series'][number]['points'] | undefined;
  selected: boolean;
  onSelect: () => void;
}) {
  const { summary } = props;
  const health = healthOf(summary.successRate, props.objective);
  const p95 = props.points?.map((p) => p.p95) ?? [];
  const failures = props.points?.map((p) => p.total > p.ok) ?? [];
  return (
    <article
      class={`card tone-border-${health} ${props.selected ? 'is-selected' : ''}`}
      data-testid="endpoint-card"
      data-endpoint={summary.endpoint}
    >
      <header class="card-head">
        <h3 class="card-title">{displayText(summary.endpoint)}</h3>
        <HealthPill health={health} />
      </header>
      <div class="card-main">
        <span class={`card-rate tone-text-${health}`}>{pct(summary.successRate)}</span>
        <span class="muted small">
          {num(summary.ok)}/{num(summary.total)} ok
        </span>
      </div>
      <Percentiles p50={summary.latencyMs.p50} p95={summary.latencyMs.p95} p99={summary.latencyMs.p99} />
      <Sparkline
        values={p95}
        failures={failures}
        label={`p95 latency of ${displayText(summary.endpoint)} over the range`}
      />
      <footer class="card-foot">
        <LastResultText last={summary.last} />
        <button type="button" class="link" aria-pressed={props.selected} onClick={props.onSelect}>
          {props.selected ? 'Show all' : 'Focus'}
        </button>
      </footer>
    </article>
  );
}

/** Cards built per task: ten cards with their sparklines in one task blocked input for its whole length on a phone. */
const CARDS_PER_TASK = 2;

/**
 * The endpoint cards, built a few per task whenever their inputs change (the
 * first answer, the sparklines arriving, a refresh, a focus): a card not yet
 * rebuilt keeps what it showed (the same element, so Preact skips it), or a
 * placeholder of its size at first, so nothing moves while they fill in.
 */
function EndpointCards(props: {
  endpoints: EndpointSummary[];
  sparklines: TimeseriesAnswer | undefined;
  focused: string | undefined;
  objective: number;
  onFocus: (endpoint: string | undefined) => void;
}) {
  const { endpoints, sparklines, focused, objective } = props;
  // How many cards the current inputs have built: a ref (a new answer resets it in the same render),
  // with a counter to render the next slice.
  const built = useRef(0);
  const [, nextSlice] = useState(0);
  const shown = useRef(new Map<string, VNode>());
  const inputs = useRef<unknown[]>([]);
  const focusedNow = useRef(focused);
  focusedNow.current = focused;
  const onFocus = useRef(props.onFocus);
  onFocus.current = props.onFocus;
  const next = [endpoints, sparklines, focused, objective];
  if (next.some((v, i) => v !== inputs.current[i])) {
    inputs.current = next;
    built.current = 0;
  }
  built.current = Math.min(endpoints.length, Math.max(built.current, CARDS_PER_TASK));
  const upTo = built.current;
  useEffect(() => {
    if (built.current >= endpoints.length) return;
    const timer = setTimeout(() => {
      built.current += CARDS_PER_TASK;
      nextSlice((n) => n + 1);
    }, 0);
    return () => clearTimeout(timer);
  });
  if (endpoints.length === 0) return <EmptyState />;
  const byKey = new Map(sparklines?.series.map((s) => [s.key, s.points]));
  return (
    <div class="cards">
      {endpoints.map((e, i) => {
        const kept = shown.current.get(e.endpoint);
        if (i >= upTo) return kept ?? <div key={e.endpoint} class="card skeleton card-skeleton" />;
        const card = (
          <EndpointCard
            key={e.endpoint}
            summary={e}
            objective={objective}
            points={byKey.get(e.endpoint)}
            selected={focused === e.endpoint}
            onSelect={() => onFocus.current(focusedNow.current === e.endpoint ? undefined : e.endpoint)}
          />
        );
        shown.current.set(e.endpoint, card);
        return card;
      })}
    </div>
  );
}

/** One card-sized placeholder per configured endpoint (known from /config before /status answers). */
function EndpointSkeletons(props: { count: number }) {
  return (
    <div class="cards" role="status" aria-busy="true" data-state="loading">
      <span class="visually-hidden">Loading the endpoints…</span>
      {Array.from({ length: props.count }, (_, i) => (
        <div key={i} class="card skeleton card-skeleton" />
      ))}
    </div>
  );
}

const LATENCY_COLORS = ['--c-p50', '--c-p95', '--c-p99'];

/**
 * True from the task after `ready` first turned true: content below the first
 * screen renders in a task of its own, so the overview paints without waiting
 * for it (and no one long task holds both).
 */
function useNextTask(ready: boolean): boolean {
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!ready || done) return;
    const timer = setTimeout(() => setDone(true), 0);
    return () => clearTimeout(timer);
  }, [ready, done]);
  return done;
}

export function StatusTab(props: { status: ApiState<StatusAnswer> }) {
  const { params, set } = useStore();
  const { config } = useShared();
  // The charts and the sparklines come from one answer; the incident overlay follows once it is
  // in, so it does not compete with it for the API (locally one process; in the cloud, cold starts).
  const { overall, grouped: byEndpoint } = useEndpointSeries(params, params.endpoint);
  const chartsIn = overall.data !== undefined || overall.error !== undefined;
  const incidents = useIncidents(params, chartsIn);
  const status = props.status;
  const alerts = useAlerts();
  const objective = status.data?.slo.objectivePercent ?? config?.slo.objectivePercent ?? 99.5;

  const charts = useMemo(() => {
    const data = overall.data;
    const first = data?.series[0];
    if (!data || !first) return undefined;
    const x = pointTimes(data);
    const latency: ChartSeries[] = (['p50', 'p95', 'p99'] as const).map((k, i) => ({
      label: k,
      color: LATENCY_COLORS[i] as string,
      values: first.points.map((p) => p[k]),
    }));
    const success: ChartSeries[] = [
      { label: 'success rate', color: '--c-ok', values: first.points.map((p) => p.successRate), fill: true },
    ];
    const xRange: [number, number] = [data.from, data.to];
    return { x, latency, success, xRange, bucketMs: data.bucketMs };
  }, [overall.data]);

  // The overview and the cards change only with their own answers: the alerts, the incidents or the
  // config arriving do not re-render them (Preact skips a component whose element is the same object
  // as last time).
  const cardsIn = useNextTask(status.data !== undefined);
  const endpointData = status.data?.endpoints;
  const sparklines = byEndpoint.data;
  const focused = params.endpoint;
  const cards = useMemo(
    () =>
      endpointData && cardsIn ? (
        <EndpointCards
          endpoints={endpointData}
          sparklines={sparklines}
          focused={focused}
          objective={objective}
          onFocus={(endpoint) => set({ endpoint })}
        />
      ) : undefined,
    [endpointData, cardsIn, sparklines, focused, objective, set],
  );
  const overview = useMemo(
    () =>
      status.data ? <Overview status={status.data} endpoint={focused} series={overall.data} /> : undefined,
    [status.data, focused, overall.data],
  );

  const incidentItems = incidents.items;
  const incidentError =
    incidents.error && incidents.error.status !== 404 ? incidents.error.detail : undefined;

  return (
    <div class="stack">
      <FiringAlerts alerts={alerts.data} overlay />
      {overview ? (
        overview
      ) : status.error ? (
        <Async state={status} what="the status">
          {() => null}
        </Async>
      ) : (
        <Overview status={placeholderStatus(objective)} endpoint={undefined} series={undefined} loading />
      )}

      <div class="grid-2">
        <Panel
          title="Latency"
          subtitle={
            charts
              ? `p50 / p95 / p99 per ${duration(charts.bucketMs)}${params.endpoint ? ` · ${displayText(params.endpoint)}` : ''}`
              : 'p50 / p95 / p99'
          }
          testId="latency-panel"
        >
          <Async state={overall} what="latency" isEmpty={(d) => !hasData(d)} chart={220}>
            {() =>
              charts ? (
                <TimeChart
                  x={charts.x}
                  series={charts.latency}
                  xRange={charts.xRange}
                  format={ms}
                  axisFormat={msAxis}
                  yMin={0}
                  incidents={incidentItems}
                  label="Latency percentiles over time"
                  sync="status"
                  testId="latency-chart"
                />
              ) : null
            }
          </Async>
        </Panel>
        <Panel
          title="Success rate"
          subtitle={`objective ${objective}%${params.endpoint ? ` · ${displayText(params.endpoint)}` : ''}`}
          testId="success-panel"
        >
          <Async state={overall} what="success rate" isEmpty={(d) => !hasData(d)} chart={220}>
            {() =>
              charts ? (
                <TimeChart
                  x={charts.x}
                  series={charts.success}
                  xRange={charts.xRange}
                  format={(v) => pct(v, v >= 0.999 ? 2 : 1)}
                  softMin={0.9}
                  yMax={1}
                  incidents={incidentItems}
                  label="Success rate over time"
                  sync="status"
                  testId="success-chart"
                />
              ) : null
            }
          </Async>
        </Panel>
      </div>

      <Panel
        title="Incidents"
        subtitle={
          <span class="legend-inline">
            <span class="swatch swatch-declared" aria-hidden="true" /> declared
            <span class="swatch swatch-detected" aria-hidden="true" /> detected
          </span>
        }
        testId="incidents-panel"
      >
        <IncidentList incidents={incidentItems} error={incidentError} />
      </Panel>

      <Panel title="Endpoints" subtitle="Focus an endpoint to chart it alone" testId="endpoints-panel">
        {cards ? (
          cards
        ) : status.error ? (
          <Async state={status} what="the endpoints">
            {() => null}
          </Async>
        ) : (
          <EndpointSkeletons count={endpointData?.length ?? config?.probes.endpoints.length ?? 4} />
        )}
      </Panel>
    </div>
  );
}
