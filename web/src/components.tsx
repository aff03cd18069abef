/** Building blocks: panels, and the designed loading, empty and error states. */
import type { ComponentChildren, VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError, ApiState } from './api';
import { useShared } from './state';
import { displayText } from './text';

export function Panel(props: {
  title: string;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  testId?: string;
}) {
  return (
    <section class={`panel ${props.class ?? ''}`} data-testid={props.testId} aria-label={props.title}>
      <header class="panel-head">
        <div>
          <h2 class="panel-title">{props.title}</h2>
          {props.subtitle ? <p class="panel-sub">{props.subtitle}</p> : null}
        </div>
        {props.actions ? <div class="panel-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

/**
 * A loading placeholder. `chart` makes it exactly the box a TimeChart of that
 * plot height takes (plot, legend and data-table line: the same CSS sum), so
 * the chart replaces it without moving what follows.
 */
export function Skeleton(props: {
  height?: number;
  lines?: number;
  label?: string;
  chart?: number;
  legendRows?: readonly [number, number];
  /** A class giving the placeholder the height its content takes (styles.css, per screen width). */
  box?: string;
}) {
  return (
    <div class="skeleton-wrap" role="status" aria-live="polite" aria-busy="true" data-state="loading">
      <span class="visually-hidden">{props.label ?? 'Loading…'}</span>
      {props.lines ? (
        Array.from({ length: props.lines }, (_, i) => (
          <div key={i} class="skeleton skeleton-line" style={{ width: `${90 - ((i * 17) % 35)}%` }} />
        ))
      ) : props.chart ? (
        <div class="skeleton chart-box" style={chartBoxStyle(props.chart, props.legendRows)} />
      ) : props.box ? (
        <div class={`skeleton ${props.box}`} />
      ) : (
        <div class="skeleton" style={{ height: `${props.height ?? 200}px` }} />
      )}
    </div>
  );
}

/**
 * The CSS variables that size a chart's box: its plot height, and the rows its
 * legend takes on wide and on narrow screens (uPlot wraps the legend; callers
 * with long series labels say how many rows they take).
 */
export function chartBoxStyle(plotHeight: number, legendRows?: readonly [number, number]) {
  return {
    '--plot-h': `${plotHeight}px`,
    ...(legendRows ? { '--legend-rows-wide': legendRows[0], '--legend-rows-narrow': legendRows[1] } : {}),
  };
}

/**
 * A box that may scroll sideways (a wide table on a phone): when it does, it is
 * in the Tab order, so a keyboard can scroll it (a labelled group, so a screen
 * reader names what it scrolls); when it fits, it is no extra Tab stop.
 */
export function ScrollRegion(props: { label: string; children: ComponentChildren; class?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrolls, setScrolls] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const check = () =>
      setScrolls(el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1);
    const observer = new ResizeObserver(check);
    observer.observe(el);
    const inner = el.firstElementChild;
    if (inner) observer.observe(inner);
    check();
    return () => observer.disconnect();
  }, []);
  return (
    // biome-ignore lint/a11y/useSemanticElements: a box that scrolls a table, not a group of form fields
    <div
      ref={ref}
      class={`table-wrap ${props.class ?? ''}`}
      role="group"
      aria-label={props.label}
      tabIndex={scrolls ? 0 : undefined}
    >
      {props.children}
    </div>
  );
}

export function EmptyState(props: { title?: string; children?: ComponentChildren }) {
  const { config } = useShared();
  const every = config ? `probes run every ${config.probes.intervalSec} s` : 'probes run on a schedule';
  return (
    <div class="state state-empty" role="status" data-state="empty">
      <svg class="state-icon" viewBox="0 0 24 24" aria-hidden="true">
        <path d="M3 12h4l2-5 4 10 2-5h6" fill="none" stroke="currentColor" stroke-width="2" />
      </svg>
      <p class="state-title">{props.title ?? 'No data in this range yet'}</p>
      <p class="state-text">{props.children ?? `Nothing recorded in this range yet — ${every}.`}</p>
    </div>
  );
}

export function ErrorState(props: { error: ApiError; retry: () => void; what?: string }) {
  const { error } = props;
  return (
    <div class="state state-error" role="alert" data-state="error">
      <p class="state-title">
        {props.what ? `Could not load ${props.what}` : 'Could not load this'}
        {error.status ? ` (${error.status} ${displayText(error.title)})` : ` (${displayText(error.title)})`}
      </p>
      <p class="state-text">{displayText(error.detail)}</p>
      {error.requestId ? <p class="state-meta">Request id: {displayText(error.requestId)}</p> : null}
      <button type="button" class="btn" onClick={props.retry}>
        Retry
      </button>
    </div>
  );
}

/**
 * The state of a request as UI: skeleton while there is nothing to show, the
 * error with a retry, the empty state, else the content (dimmed while a new
 * answer is on its way).
 */
export function Async<T>(props: {
  state: ApiState<T>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  height?: number;
  lines?: number;
  /** The plot height of the TimeChart this shows: the placeholder takes the chart's whole box. */
  chart?: number;
  legendRows?: readonly [number, number];
  box?: string;
  children: (data: T) => VNode | VNode[] | null;
}) {
  const { state } = props;
  if (state.data === undefined) {
    if (state.error) return <ErrorState error={state.error} retry={state.retry} what={props.what} />;
    return (
      <Skeleton
        height={props.height}
        lines={props.lines}
        chart={props.chart}
        legendRows={props.legendRows}
        box={props.box}
        label={`Loading ${props.what}…`}
      />
    );
  }
  if (props.isEmpty?.(state.data)) {
    return props.empty ? (props.empty as VNode) : <EmptyState />;
  }
  return (
    <div class={state.stale ? 'async is-updating' : 'async'} aria-busy={state.loading}>
      {state.error ? (
        <p class="inline-warning" role="status">
          Showing earlier data: the last refresh failed ({displayText(state.error.detail)}).{' '}
          <button type="button" class="link" onClick={state.retry}>
            Retry
          </button>
        </p>
      ) : null}
      {props.children(state.data)}
    </div>
  );
}

/** A labelled select of plain string options (text only: option labels are never HTML; shown through displayText). */
export function SelectField(props: {
  id: string;
  label: string;
  value: string;
  options: readonly string[];
  disabled?: boolean;
  testId?: string;
  onChange: (value: string) => void;
}) {
  return (
    <label class="field" for={props.id}>
      <span>{props.label}</span>
      <select
        id={props.id}
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
        data-testid={props.testId}
      >
        {props.options.map((option) => (
          <option key={option} value={option}>
            {displayText(option)}
          </option>
        ))}
      </select>
    </label>
  );
}
