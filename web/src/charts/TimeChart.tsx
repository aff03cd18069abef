/**
 * A uPlot time chart: lines, bars or stacked areas over time, with incident
 * overlays (shaded windows, declared and detected styled apart) and a hover
 * tooltip. Series labels reach the DOM only through uPlot's textContent; the
 * incident tooltip is textContent too.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { chartBoxStyle, ScrollRegion } from '../components';
import { dateTime } from '../format';
import { useShared } from '../state';
import { displayText } from '../text';
import type { Incident } from '../types';

export interface ChartSeries {
  label: string;
  /** A CSS custom property name (`--c-p95`) or a colour. */
  color: string;
  values: (number | null)[];
  width?: number;
  dash?: number[];
  /** Scale key for a second y axis. */
  scale?: string;
  /** Fill under the line (stacked charts always fill). */
  fill?: boolean;
  bars?: boolean;
}

export interface TimeChartProps {
  /** Bucket start times, epoch ms. */
  x: number[];
  series: ChartSeries[];
  /** The requested range, epoch ms; the x axis spans it. */
  xRange?: [number, number];
  height?: number;
  /** Formats y values on the axis and in the legend. */
  format: (value: number) => string;
  /** Formats values of the second scale (`y2`). */
  format2?: (value: number) => string;
  yMin?: number;
  yMax?: number;
  /** Fixed y range only expands to include data (success rate: 0.9–1 unless worse). */
  softMin?: number;
  incidents?: readonly Incident[];
  stacked?: boolean;
  sparkline?: boolean;
  label: string;
  /** Cursor sync group. */
  sync?: string;
  /** Rows the legend wraps to on wide and narrow screens, when more than 1 and 2 (long labels). */
  legendRows?: readonly [number, number];
  /** Labels for the y axis ticks all at once (one unit on the axis); `format` labels each alone by default. */
  axisFormat?: (splits: number[]) => string[];
  testId?: string;
}

let firstChartMarked = false;

/**
 * uPlot is its own chunk, fetched once by the first chart that comes near the
 * view: the page paints its figures (and the charts' reserved boxes) without
 * waiting for it.
 */
let uPlotLoading: Promise<typeof uPlot> | undefined;
let uPlotLoaded: typeof uPlot | undefined;
function loadUPlot(): Promise<typeof uPlot> {
  uPlotLoading ??= import('uplot').then((m) => {
    uPlotLoaded = m.default;
    return m.default;
  });
  return uPlotLoading;
}

/**
 * Chart constructions waiting their turn, run one per task: building a uPlot
 * lays out and draws a canvas, and a page with several charts built in one go
 * would block input for the sum of them.
 */
const pendingBuilds: (() => void)[] = [];
let buildScheduled = false;
function runNextBuild(): void {
  pendingBuilds.shift()?.();
  buildScheduled = pendingBuilds.length > 0;
  if (buildScheduled) setTimeout(runNextBuild, 0);
}
function queueBuild(build: () => void): void {
  pendingBuilds.push(build);
  if (buildScheduled) return;
  buildScheduled = true;
  setTimeout(runNextBuild, 0);
}

/** How far below the view a chart starts loading, so that it is mostly drawn by the time it scrolls in. */
const NEAR_VIEW_MARGIN = '100px 0px';
/** A chart out of view is drawn anyway this long after it mounts, once the browser is idle. */
const IDLE_BUILD_MS = 3000;

/**
 * True once the element is near the view, or IDLE_BUILD_MS after mount when the browser is idle (then
 * charts further down are drawn too, so that scrolling finds them ready). Not at the first idle moment:
 * that comes while the page is still loading, and on a phone, where the charts sit below the first
 * screen, importing uPlot (about 45 ms of script here, unthrottled) and building a chart then made two
 * of the Status tab's longest tasks during its load.
 */
function useNearView(ref: { current: Element | null }): boolean {
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (near || !el) return;
    if (typeof IntersectionObserver === 'undefined') {
      setNear(true);
      return;
    }
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) setNear(true);
      },
      { rootMargin: NEAR_VIEW_MARGIN },
    );
    observer.observe(el);
    let idle: number | undefined;
    const timer = setTimeout(() => {
      if (typeof requestIdleCallback === 'function') idle = requestIdleCallback(() => setNear(true));
      else setNear(true);
    }, IDLE_BUILD_MS);
    return () => {
      observer.disconnect();
      clearTimeout(timer);
      if (idle !== undefined) cancelIdleCallback(idle);
    };
  }, [ref, near]);
  return near;
}

export function cssColor(value: string, alpha?: number): string {
  let color = value;
  if (value.startsWith('--')) {
    color = getComputedStyle(document.documentElement).getPropertyValue(value).trim() || '#888';
  }
  if (alpha === undefined) return color;
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex?.[1]) {
    const n = Number.parseInt(hex[1], 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  return color;
}

/** Shaded incident windows drawn under the series, and a tooltip naming the incident under the cursor. */
function incidentPlugin(
  getIncidents: () => readonly Incident[],
  wrapper: () => HTMLElement | null,
): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  let hatch: CanvasPattern | null = null;
  const spans = (u: uPlot) => {
    const xs = u.scales.x;
    const min = xs?.min ?? 0;
    const max = xs?.max ?? 0;
    return getIncidents()
      .map((incident) => {
        const start = Math.max(incident.start / 1000, min);
        const end = Math.min((incident.end ?? Date.now()) / 1000, max);
        return { incident, start, end };
      })
      .filter((s) => s.end >= s.start && s.end > min && s.start < max);
  };
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'incident-tip';
        tip.setAttribute('role', 'tooltip');
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      drawClear: (u) => {
        const ctx = u.ctx;
        const { top, height } = u.bbox;
        let drawn = 0;
        const declared = cssColor('--incident-declared', 0.18);
        const declaredEdge = cssColor('--incident-declared');
        const detected = cssColor('--incident-detected', 0.16);
        const detectedEdge = cssColor('--incident-detected');
        if (!hatch) {
          const tile = document.createElement('canvas');
          tile.width = 8;
          tile.height = 8;
          const t = tile.getContext('2d');
          if (t) {
            t.strokeStyle = cssColor('--incident-detected', 0.45);
            t.lineWidth = 2;
            t.beginPath();
            t.moveTo(0, 8);
            t.lineTo(8, 0);
            t.stroke();
          }
          hatch = ctx.createPattern(tile, 'repeat');
        }
        ctx.save();
        for (const { incident, start, end } of spans(u)) {
          const x0 = u.valToPos(start, 'x', true);
          const x1 = Math.max(x0 + 2, u.valToPos(end, 'x', true));
          const isDeclared = incident.kind === 'declared';
          ctx.fillStyle = isDeclared ? declared : detected;
          ctx.fillRect(x0, top, x1 - x0, height);
          if (!isDeclared && hatch) {
            ctx.fillStyle = hatch;
            ctx.fillRect(x0, top, x1 - x0, height);
          }
          ctx.strokeStyle = isDeclared ? declaredEdge : detectedEdge;
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash(isDeclared ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x0, top);
          ctx.lineTo(x0, top + height);
          ctx.moveTo(x1, top);
          ctx.lineTo(x1, top + height);
          ctx.stroke();
          drawn++;
        }
        ctx.restore();
        const el = wrapper();
        if (el) el.dataset.incidentRects = String(drawn);
      },
      setCursor: (u) => {
        if (!tip) return;
        const left = u.cursor.left ?? -1;
        if (left < 0) {
          tip.hidden = true;
          return;
        }
        const at = u.posToVal(left, 'x');
        const hit = spans(u).find((s) => at >= s.start && at <= s.end);
        if (!hit) {
          tip.hidden = true;
          return;
        }
        const { incident } = hit;
        const end = incident.end === null ? 'ongoing' : dateTime(incident.end);
        const where = incident.endpoint ?? incident.endpoints?.join(', ') ?? 'all endpoints';
        tip.textContent = displayText(
          `${incident.kind === 'declared' ? 'Declared' : 'Detected'} incident · severity ${
            incident.severity ?? 'unknown'
          }\n${incident.title ?? incident.reason ?? incident.id}\n${where} · ${dateTime(incident.start)} – ${end}`,
        );
        tip.hidden = false;
        const width = u.over.clientWidth;
        tip.style.left = `${Math.min(left + 12, Math.max(0, width - 240))}px`;
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}

function stack(series: ChartSeries[]): (number | null)[][] {
  const sums: number[] = [];
  return series.map((s) =>
    s.values.map((v, i) => {
      sums[i] = (sums[i] ?? 0) + (v ?? 0);
      return sums[i] as number;
    }),
  );
}

/**
 * Empty buckets between results: a short run is bridged (uPlot draws through
 * `undefined`, it breaks lines only at `null`), a long one stays a gap. Short
 * means up to twice the usual spacing of results (their 75th percentile) and
 * at least three buckets, so a probe every few minutes draws a line while a
 * probe that stopped shows as a gap.
 */
function bridgeGaps(x: readonly number[], values: readonly (number | null)[]): (number | null | undefined)[] {
  const present: number[] = [];
  values.forEach((v, i) => {
    if (v !== null) present.push(i);
  });
  if (present.length < 2) return [...values];
  const spacings = present
    .slice(1)
    .map((i, k) => (x[i] as number) - (x[present[k] as number] as number))
    .sort((a, b) => a - b);
  const bucket = x.length > 1 ? (x[1] as number) - (x[0] as number) : 0;
  const p75 = spacings[Math.floor((spacings.length - 1) * 0.75)] as number;
  const limit = Math.max(3 * bucket, 2 * p75);
  const out: (number | null | undefined)[] = [...values];
  for (let k = 1; k < present.length; k++) {
    const a = present[k - 1] as number;
    const b = present[k] as number;
    if (b - a > 1 && (x[b] as number) - (x[a] as number) <= limit) {
      for (let i = a + 1; i < b; i++) out[i] = undefined;
    }
  }
  return out;
}

function buildData(props: TimeChartProps): uPlot.AlignedData {
  const xs = props.x.map((t) => t / 1000);
  const ys = props.stacked
    ? stack(props.series).reverse()
    : props.series.map((s) => (s.bars ? s.values : bridgeGaps(props.x, s.values)));
  return [xs, ...ys] as uPlot.AlignedData;
}

/** Points the legend at the last bucket with a value. */
function showLatest(u: uPlot): void {
  if (!u.legend.show) return;
  const n = u.data[0].length;
  for (let i = n - 1; i >= 0; i--) {
    if (u.data.some((values, si) => si > 0 && values[i] !== null && values[i] !== undefined)) {
      u.setLegend({ idx: i }, false);
      return;
    }
  }
}

function buildOptions(
  current: () => TimeChartProps,
  width: number,
  incidents: () => readonly Incident[],
  wrapper: () => HTMLElement | null,
): uPlot.Options {
  const props = current();
  const muted = cssColor('--muted');
  const grid = cssColor('--grid');
  const spark = props.sparkline === true;
  const ordered = props.stacked ? [...props.series].reverse() : props.series;
  const hasY2 = props.series.some((s) => s.scale === 'y2');
  const axisFont = '12px system-ui, sans-serif';
  const range = () => current().xRange;
  const yFormat = (v: number) => current().format(v);

  const series: uPlot.Series[] = [
    { value: (_u, v) => (v === null ? '—' : dateTime(v * 1000)) },
    ...ordered.map((s, i): uPlot.Series => {
      const color = cssColor(s.color);
      const rawIndex = props.stacked ? props.series.length - 1 - i : i;
      return {
        label: displayText(s.label),
        stroke: color,
        width: s.width ?? (spark ? 1.5 : 2),
        ...(s.dash ? { dash: s.dash } : {}),
        scale: s.scale ?? 'y',
        spanGaps: false,
        points: { show: spark ? false : (_u: uPlot, _si: number, i0: number, i1: number) => i1 - i0 < 40 },
        ...(props.stacked || s.fill ? { fill: cssColor(s.color, props.stacked ? 0.75 : 0.12) } : {}),
        ...(s.bars ? { paths: uPlotLoaded?.paths.bars?.({ size: [0.7, 40] }) } : {}),
        value: (_u, v, _si, idx) => {
          const now = current();
          const shown = now.stacked && idx !== null ? (now.series[rawIndex]?.values[idx] ?? null) : v;
          if (shown === null || shown === undefined) return '—';
          return s.scale === 'y2' && now.format2 ? now.format2(shown) : yFormat(shown);
        },
      };
    }),
  ];

  const axes: uPlot.Axis[] = spark
    ? [{ show: false }, { show: false }]
    : [
        { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font: axisFont },
        {
          stroke: muted,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          font: axisFont,
          size: 60,
          values: (_u, splits) => {
            const axis = current().axisFormat;
            return axis ? axis(splits) : splits.map((v) => yFormat(v));
          },
        },
        ...(hasY2
          ? [
              {
                scale: 'y2',
                side: 1,
                stroke: muted,
                grid: { show: false },
                ticks: { stroke: grid },
                font: axisFont,
                size: 60,
                values: (_u: uPlot, splits: number[]) => {
                  const f = current().format2;
                  return splits.map((v) => (f ? f(v) : String(v)));
                },
              } satisfies uPlot.Axis,
            ]
          : []),
      ];

  const yRange: uPlot.Range.Function = (_u, min, max) => {
    let lo = props.yMin ?? (props.stacked ? 0 : min);
    const hi = props.yMax ?? max;
    if (props.softMin !== undefined) lo = Math.min(props.softMin, Number.isFinite(min) ? min : props.softMin);
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo === hi) {
      const base = Number.isFinite(hi) ? hi : 0;
      return [Math.min(0, base), base === 0 ? 1 : base * 1.1];
    }
    return [lo, props.yMax ?? hi + (hi - lo) * 0.08];
  };

  return {
    width,
    height: props.height ?? (spark ? 48 : 220),
    series,
    axes,
    padding: spark ? [4, 2, 4, 2] : [12, 12, 0, 4],
    legend: { show: !spark, live: true },
    cursor: spark
      ? { show: false }
      : {
          drag: { x: false, y: false },
          points: { size: 6 },
          ...(props.sync ? { sync: { key: props.sync } } : {}),
        },
    scales: {
      x: {
        time: true,
        range: (_u, min, max) => {
          const r = range();
          return r ? [r[0] / 1000, r[1] / 1000] : [min, max];
        },
      },
      y: { range: yRange },
      ...(hasY2 ? { y2: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] } } : {}),
    },
    plugins: props.incidents ? [incidentPlugin(incidents, wrapper)] : [],
    hooks: {
      // Away from the cursor, the legend shows the latest values rather than dashes.
      ready: [(u) => showLatest(u)],
      setData: [(u) => showLatest(u)],
      setCursor: [
        (u) => {
          if (u.cursor.idx === null || u.cursor.idx === undefined) showLatest(u);
        },
      ],
      draw: [
        (u) => {
          const el = wrapper();
          if (el) {
            el.dataset.points = String(u.data[0].length);
            el.dataset.drawn = String(Number(el.dataset.drawn ?? 0) + 1);
          }
          if (!firstChartMarked && !spark && u.data[0].length > 0) {
            firstChartMarked = true;
            performance.mark('first-chart');
          }
        },
      ],
    },
  };
}

/** The chart's numbers as a table, for screen readers and copying; rendered only when opened. */
function ChartTable(props: TimeChartProps) {
  const [open, setOpen] = useState(false);
  return (
    <details class="data-table" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Data table</summary>
      {open ? (
        <ScrollRegion label={`${displayText(props.label)}: data table`}>
          <table class="table table-compact">
            <thead>
              <tr>
                <th scope="col">Time</th>
                {props.series.map((s) => (
                  <th key={s.label} scope="col">
                    {displayText(s.label)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.x
                .map((t, i) => ({ t, i }))
                .filter(({ i }) => props.series.some((s) => s.values[i] !== null))
                .reverse()
                .map(({ t, i }) => (
                  <tr key={t}>
                    <th scope="row">{dateTime(t)}</th>
                    {props.series.map((s) => {
                      const v = s.values[i];
                      const f = s.scale === 'y2' && props.format2 ? props.format2 : props.format;
                      return (
                        <td key={s.label} class="num">
                          {v === null || v === undefined ? '—' : f(v)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
    </details>
  );
}

export function TimeChart(props: TimeChartProps) {
  const { theme } = useShared();
  const wrapperRef = useRef<HTMLElement>(null);
  const hostRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const shapeRef = useRef('');
  const propsRef = useRef(props);
  propsRef.current = props;
  const incidents = useRef<readonly Incident[]>(props.incidents ?? []);
  incidents.current = props.incidents ?? [];

  const shape = [
    theme,
    props.stacked,
    props.sparkline,
    props.height,
    props.series.map((s) => `${s.label}|${s.color}|${s.scale}|${s.bars}`).join(','),
    props.incidents ? 'i' : '',
    props.yMin,
    props.yMax,
    props.softMin,
    props.xRange ? 'r' : '',
  ].join('/');

  const shapeNow = useRef(shape);
  shapeNow.current = shape;
  const inputsOf = (p: TimeChartProps) => [p.x, p.series, p.incidents, p.xRange?.[0], p.xRange?.[1]];
  const inputs = useRef<unknown[]>([]);
  const buildQueued = useRef(false);
  const near = useNearView(wrapperRef);
  const [UPlot, setUPlot] = useState<typeof uPlot | undefined>(() => uPlotLoaded);
  useEffect(() => {
    if (!UPlot && near) void loadUPlot().then((loaded) => setUPlot(() => loaded));
  }, [UPlot, near]);
  useEffect(() => {
    const host = hostRef.current;
    if (!host || !UPlot || !near) return;
    const plot = plotRef.current;
    if (plot && shapeRef.current === shape) {
      const next = inputsOf(props);
      if (next.every((v, i) => v === inputs.current[i])) return;
      inputs.current = next;
      plot.setData(buildData(props));
      plot.redraw(false, true);
      return;
    }
    // A new chart (or a new shape: theme, series): built in its turn, from the props current then.
    if (buildQueued.current) return;
    buildQueued.current = true;
    queueBuild(() => {
      buildQueued.current = false;
      if (!host.isConnected) return;
      const current = propsRef.current;
      plotRef.current?.destroy();
      inputs.current = inputsOf(current);
      plotRef.current = new UPlot(
        buildOptions(
          () => propsRef.current,
          Math.max(120, host.clientWidth),
          () => incidents.current,
          () => wrapperRef.current,
        ),
        buildData(current),
        host,
      );
      shapeRef.current = shapeNow.current;
    });
  });

  useEffect(() => {
    const host = hostRef.current;
    if (!host || typeof ResizeObserver === 'undefined') return;
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const plot = plotRef.current;
        if (!plot) return;
        const width = Math.max(120, host.clientWidth);
        if (Math.abs(width - plot.width) > 1) {
          plot.setSize({ width, height: propsRef.current.height ?? (propsRef.current.sparkline ? 48 : 220) });
        }
      });
    });
    observer.observe(host);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
      plotRef.current?.destroy();
      plotRef.current = null;
    };
  }, []);

  const [from, to] = props.xRange ?? [props.x[0] ?? 0, props.x.at(-1) ?? 0];
  return (
    <figure
      ref={wrapperRef}
      class={props.sparkline ? 'chart chart-spark' : 'chart chart-box'}
      style={chartBoxStyle(props.height ?? (props.sparkline ? 48 : 220), props.legendRows)}
      aria-label={displayText(props.label)}
      data-testid={props.testId}
      data-from={String(from)}
      data-to={String(to)}
    >
      <div ref={hostRef} class="chart-host" />
      {props.sparkline ? null : <ChartTable {...props} />}
    </figure>
  );
}
