/** Small shared widgets: health pills, SLO widget, error-budget bar, SVG sparklines, incident list. */
import { ago, dateTime, grouped, ms, pct, ratio } from './format';
import { displayText } from './text';
import type { Incident, LastResult, SloView } from './types';

export type Health = 'ok' | 'degraded' | 'down' | 'none';

export function healthOf(successRate: number | null | undefined, objectivePercent: number): Health {
  if (successRate === null || successRate === undefined) return 'none';
  if (successRate >= objectivePercent / 100) return 'ok';
  if (successRate >= 0.9) return 'degraded';
  return 'down';
}

const HEALTH_LABEL: Record<Health, string> = {
  ok: 'Operational',
  degraded: 'Degraded',
  down: 'Major outage',
  none: 'No data',
};

export function HealthPill(props: { health: Health }) {
  return (
    <span class={`pill pill-${props.health}`}>
      <span class="dot" aria-hidden="true" />
      {HEALTH_LABEL[props.health]}
    </span>
  );
}

export function LastResultText(props: { last: LastResult | null }) {
  const { last } = props;
  if (!last) return <span class="muted">No result yet</span>;
  const what = [last.status ?? (last.ok ? 'ok' : 'no answer'), last.errorType].filter(Boolean).join(' · ');
  return (
    <span class={last.ok ? 'last last-ok' : 'last last-fail'} title={dateTime(last.ts)}>
      <span aria-hidden="true">{last.ok ? '✓ ' : '✗ '}</span>
      <span class="visually-hidden">{last.ok ? 'Succeeded: ' : 'Failed: '}</span>
      {displayText(what)} · {ago(last.ts)}
    </span>
  );
}

/** The remaining error budget as a bar: full = untouched, empty = spent, red = overspent. */
export function BudgetBar(props: { remaining: number | null; compact?: boolean }) {
  const { remaining } = props;
  const shown = remaining === null ? 0 : Math.max(0, Math.min(1, remaining));
  const tone = remaining === null ? 'none' : remaining < 0 ? 'down' : remaining < 0.25 ? 'degraded' : 'ok';
  const text =
    remaining === null
      ? 'no valid executions'
      : remaining < 0
        ? `overspent by ${pct(-remaining, 0)}`
        : `${pct(remaining, 0)} left`;
  return (
    <div class={props.compact ? 'budget budget-compact' : 'budget'}>
      {/* biome-ignore lint/a11y/useSemanticElements: a styled bar; <meter> cannot be styled across browsers */}
      <div
        class={`budget-track tone-${tone}`}
        role="meter"
        aria-label="Error budget remaining"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(shown * 100)}
        aria-valuetext={text}
      >
        <div class="budget-fill" style={{ width: `${shown * 100}%` }} />
      </div>
      <span class="budget-text">{text}</span>
    </div>
  );
}

function burnTone(value: number | null): string {
  if (value === null) return 'none';
  if (value >= 14.4) return 'down';
  if (value >= 1) return 'degraded';
  return 'ok';
}

export function BurnFigure(props: { label: string; value: number | null }) {
  return (
    <div class="figure">
      <span class="figure-label">{props.label}</span>
      <span class={`figure-value tone-text-${burnTone(props.value)}`}>{ratio(props.value)}</span>
    </div>
  );
}

/**
 * The burn rate over the range as a small SVG area (no axes), placed by time
 * across `xRange`, with the 1× line (the rate that spends the budget exactly
 * over the objective's window). SVG rather than a uPlot chart: it sits on the
 * Status tab's first screen and on every row of the SLO tab, where a canvas
 * chart each would cost a script chunk and a layout-and-draw task apiece.
 * Buckets without valid executions break the area.
 */
export function BurnSparkline(props: {
  x: readonly number[];
  values: readonly (number | null)[];
  xRange?: readonly [number, number];
  height: number;
  label: string;
}) {
  const { x, values, height } = props;
  const from = props.xRange?.[0] ?? x[0] ?? 0;
  const to = props.xRange?.[1] ?? x.at(-1) ?? from + 1;
  const span = to - from || 1;
  let peak: number | null = null;
  let latest: number | null = null;
  for (const v of values) {
    if (v === null) continue;
    if (peak === null || v > peak) peak = v;
    latest = v;
  }
  // The 1× line is always in view: a calm range shows how far below it the burn stays.
  const top = Math.max(peak ?? 0, 1) * 1.08;
  // Two units of padding above and below, as the uPlot sparkline had.
  const yOf = (v: number) => (height - 2 - (v / top) * (height - 4)).toFixed(2);
  const xOf = (t: number) => (((t - from) / span) * 100).toFixed(2);
  const base = yOf(0);
  let area = '';
  let line = '';
  let runStart: string | undefined;
  let runEnd = '';
  const closeRun = () => {
    if (runStart !== undefined) area += `L${runEnd},${base}L${runStart},${base}Z`;
    runStart = undefined;
  };
  values.forEach((v, i) => {
    const t = x[i];
    if (v === null || t === undefined) {
      closeRun();
      return;
    }
    const px = xOf(t);
    const point = `${px},${yOf(v)}`;
    if (runStart === undefined) {
      runStart = px;
      area += `M${point}`;
      line += `M${point}`;
    } else {
      area += `L${point}`;
      line += `L${point}`;
    }
    runEnd = px;
  });
  closeRun();
  const one = yOf(1);
  return (
    <svg
      class="burn-spark"
      viewBox={`0 0 100 ${height}`}
      preserveAspectRatio="none"
      style={{ height: `${height}px` }}
      role="img"
      aria-label={`${props.label}: latest ${ratio(latest)}, peak ${ratio(peak)}`}
    >
      <path d={area} class="burn-spark-area" />
      <path d={`M0,${one}L100,${one}`} class="burn-spark-one" vector-effect="non-scaling-stroke" />
      <path d={line} class="burn-spark-line" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

/** The burn sparkline's height on the SLO widget (its placeholder keeps the same). */
const SLO_SPARK_HEIGHT = 48;

/** Current SLI against the objective, budget left, burn rates, and the burn-rate sparkline (SVG). */
export function SloWidget(props: {
  slo: SloView;
  objectivePercent: number;
  burn: { x: number[]; values: (number | null)[] } | undefined;
  xRange?: [number, number];
  title?: string;
  /** Keep the sparkline's place while its series is on its way (nothing below moves when it arrives). */
  reserveSpark?: boolean;
}) {
  const { slo, objectivePercent } = props;
  const met = slo.sli === null ? null : slo.sli >= objectivePercent / 100;
  return (
    <div class="slo" data-testid="slo-widget">
      <div class="slo-figures">
        <div class="figure figure-big">
          <span class="figure-label">SLI {props.title ? `· ${props.title}` : ''}</span>
          <span class={`figure-value tone-text-${met === null ? 'none' : met ? 'ok' : 'down'}`}>
            {pct(slo.sli, 3)}
          </span>
          <span class="figure-note">
            objective {objectivePercent}% · {grouped(slo.good)} good of {grouped(slo.valid)} valid
          </span>
        </div>
        <div class="figure figure-grow">
          <span class="figure-label">Error budget remaining</span>
          <BudgetBar remaining={slo.errorBudgetRemaining} />
        </div>
        <BurnFigure label="Burn 1 h" value={slo.burnRate['1h']} />
        <BurnFigure label="Burn 6 h" value={slo.burnRate['6h']} />
      </div>
      {props.burn ? (
        <div class="slo-spark" data-testid="burn-sparkline">
          <span class="figure-label">Burn rate over the range (1× spends the budget exactly)</span>
          <BurnSparkline
            x={props.burn.x}
            values={props.burn.values}
            xRange={props.xRange}
            height={SLO_SPARK_HEIGHT}
            label="Burn rate over time"
          />
        </div>
      ) : props.reserveSpark ? (
        <div class="slo-spark" aria-hidden="true">
          <span class="figure-label">Burn rate over the range (1× spends the budget exactly)</span>
          <div class="burn-spark" style={{ height: `${SLO_SPARK_HEIGHT}px` }} />
        </div>
      ) : null}
    </div>
  );
}

/** A tiny SVG line (no axes) for endpoint cards; failures marked as red ticks. */
export function Sparkline(props: { values: (number | null)[]; failures?: boolean[]; label: string }) {
  const { values } = props;
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return <div class="spark spark-empty" aria-hidden="true" />;
  const max = Math.max(...present);
  const min = Math.min(...present);
  const span = max - min || 1;
  const n = Math.max(1, values.length - 1);
  // Empty buckets are bridged: a card's sparkline shows the trend, the charts show the gaps.
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    const x = (i / n) * 100;
    const y = 28 - ((v - min) / span) * 24;
    d += `${d ? 'L' : 'M'}${x.toFixed(2)},${y.toFixed(2)}`;
  });
  return (
    <svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={props.label}>
      {props.failures?.map((f, i) =>
        f ? <rect key={i} class="spark-fail" x={(i / n) * 100 - 0.6} y={0} width={1.2} height={30} /> : null,
      )}
      <path d={d} class="spark-line" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function IncidentList(props: { incidents: readonly Incident[]; error?: string }) {
  if (props.error) {
    return <p class="muted small">Incidents could not be loaded: {props.error}</p>;
  }
  if (props.incidents.length === 0) {
    return <p class="muted small">No incidents in this range.</p>;
  }
  return (
    <ul class="incidents" aria-label="Incidents in this range" data-testid="incident-list">
      {props.incidents.map((incident) => (
        <li key={incident.id} class={`incident incident-${incident.kind}`}>
          <span class={`badge badge-${incident.kind}`}>{incident.kind}</span>
          {incident.kind === 'maintenance' ? null : (
            <span class={`badge badge-sev`}>{displayText(incident.severity ?? 'unknown')}</span>
          )}
          <span class="incident-title">{displayText(incident.title ?? incident.reason ?? incident.id)}</span>
          <span class="muted small">
            {displayText(incident.endpoint ?? incident.endpoints?.join(', ') ?? 'all endpoints')}
          </span>
          {incident.description ? (
            <span class="incident-desc small">{displayText(incident.description)}</span>
          ) : null}
          <span class="muted small incident-when">
            {dateTime(incident.start)} – {incident.end === null ? 'ongoing' : dateTime(incident.end)}
          </span>
        </li>
      ))}
    </ul>
  );
}

export function Stat(props: { label: string; value: string; tone?: string; note?: string }) {
  return (
    <div class="stat">
      <span class="stat-label">{props.label}</span>
      <span class={`stat-value ${props.tone ? `tone-text-${props.tone}` : ''}`}>{props.value}</span>
      {props.note ? <span class="stat-note">{props.note}</span> : null}
    </div>
  );
}

export function Percentiles(props: { p50: number | null; p95: number | null; p99: number | null }) {
  return (
    <dl class="pcts">
      <div class="pct">
        <dt>p50</dt>
        <dd>{ms(props.p50)}</dd>
      </div>
      <div class="pct">
        <dt>p95</dt>
        <dd>{ms(props.p95)}</dd>
      </div>
      <div class="pct">
        <dt>p99</dt>
        <dd>{ms(props.p99)}</dd>
      </div>
    </dl>
  );
}
