/**
 * The table of calls, newest first: one row a call, opened for its detail.
 *
 * A page of up to FIRST_ROWS calls renders at once; a bigger page (the 200 and 500 page sizes, or
 * "load more") adds the rest in idle slices, so no single task builds hundreds of rows. Measured on
 * the default page of 100, slicing it (24 rows, then 12 or 19 per slice) cost more than it saved:
 * every slice is its own style, layout and paint frame, which the mobile preset scales 4× into more
 * long tasks (Lighthouse mobile TBT 1,550 ms against 610 ms at the same load). The columns have
 * fixed widths (`table-layout: fixed`), so they do not move as rows arrive. Each row's element is kept while its call, selection and Tab stop are unchanged, so
 * opening a call re-renders two rows, not the page.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dateTime, ms, num } from '../../format';
import { displayText } from '../../text';
import type { TraceEvent } from '../../types';

/** Rows in the first render: the default page size. */
export const FIRST_ROWS = 100;
/** Rows added per idle slice after that. */
export const SLICE_ROWS = 50;

/** Calls `run` when the browser is idle (soon after, where there is no requestIdleCallback). */
function whenIdle(run: () => void): () => void {
  if (typeof requestIdleCallback === 'function') {
    const handle = requestIdleCallback(run, { timeout: 500 });
    return () => cancelIdleCallback(handle);
  }
  const timer = setTimeout(run, 16);
  return () => clearTimeout(timer);
}

/** How many of `total` rows to render: FIRST_ROWS at mount, then SLICE_ROWS more per idle slice. */
function useRowsShown(total: number): number {
  const [shown, setShown] = useState(FIRST_ROWS);
  useEffect(() => {
    if (shown >= total) return;
    return whenIdle(() => setShown((n) => n + SLICE_ROWS));
  }, [shown, total]);
  return Math.min(shown, total);
}

function Row(props: {
  event: TraceEvent;
  selected: boolean;
  current: boolean;
  onOpen: (id: string) => void;
}) {
  const e = props.event;
  const tokens = e.usage ? (e.usage.input ?? 0) + (e.usage.output ?? 0) : undefined;
  const when = dateTime(e.ts);
  return (
    <tr
      class={props.selected ? 'is-selected' : undefined}
      aria-selected={props.selected}
      data-id={e.id}
      onClick={() => props.onOpen(e.id)}
      data-testid="trace-row"
    >
      <td>
        <button
          type="button"
          class="link row-open"
          onClick={(ev) => {
            ev.stopPropagation();
            props.onOpen(e.id);
          }}
          aria-label={`Open call ${displayText(e.id)} of ${when}`}
          aria-expanded={props.selected}
          tabIndex={props.current ? 0 : -1}
        >
          {when}
        </button>
      </td>
      <td class="mono">{displayText(e.endpoint)}</td>
      <td class="mono hide-narrow">{displayText(e.model ?? '—')}</td>
      <td class="hide-narrow">{displayText(e.region ?? '—')}</td>
      <td class="hide-narrow">{displayText(e.source)}</td>
      {/* The ✓ / ✗ is drawn by CSS with empty alternative text: one cell, and the status is read as the number. */}
      <td class={e.ok ? 'status-ok' : 'status-fail'}>{e.status ?? '—'}</td>
      <td class="hide-narrow">{displayText(e.errorType ?? '')}</td>
      <td class="num">{ms(e.latencyMs)}</td>
      <td class="num hide-narrow">{tokens === undefined ? '—' : num(tokens)}</td>
    </tr>
  );
}

type RowCache = Map<string, { event: TraceEvent; selected: boolean; current: boolean; row: JSX.Element }>;

export function TracesTable(props: {
  items: TraceEvent[];
  selectedId: string | undefined;
  duplicatesDropped: number;
  /** Must keep its identity across renders: the kept rows hold it. */
  onOpen: (id: string) => void;
}) {
  const { items, duplicatesDropped, onOpen } = props;
  const shown = useRowsShown(items.length);
  const cache = useRef<RowCache>(new Map());
  // One Tab stop for the whole table (the open call's row, else the first): the arrow keys move between
  // rows, and Tab goes on past the table rather than through every row.
  const current = items.some((e) => e.id === props.selectedId) ? props.selectedId : items[0]?.id;
  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('row-open')) return;
    const buttons = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('.row-open')];
    const at = buttons.indexOf(target);
    let next = -1;
    if (event.key === 'ArrowDown') next = Math.min(buttons.length - 1, at + 1);
    else if (event.key === 'ArrowUp') next = Math.max(0, at - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = buttons.length - 1;
    if (next < 0) return;
    event.preventDefault();
    for (const b of buttons) b.tabIndex = -1;
    const to = buttons[next];
    if (to) {
      to.tabIndex = 0;
      to.focus();
    }
  };
  const rows: JSX.Element[] = [];
  const kept: RowCache = new Map();
  for (const event of items.slice(0, shown)) {
    const selected = event.id === props.selectedId;
    const isCurrent = event.id === current;
    const old = cache.current.get(event.id);
    // The same element as last time: Preact skips the row without diffing it.
    const row =
      old && old.event === event && old.selected === selected && old.current === isCurrent ? (
        old.row
      ) : (
        <Row key={event.id} event={event} selected={selected} current={isCurrent} onOpen={onOpen} />
      );
    kept.set(event.id, { event, selected, current: isCurrent, row });
    rows.push(row);
  }
  cache.current = kept;
  return (
    <table
      class="table traces-table"
      data-testid="traces-table"
      data-duplicates-dropped={duplicatesDropped}
      data-rows-shown={shown}
      onKeyDown={onKeyDown}
    >
      <caption class="visually-hidden">
        Calls, newest first. Up and down arrows move between calls, Enter opens one, Tab leaves the table.
      </caption>
      <thead>
        <tr>
          <th scope="col" class="tc-time">
            Time
          </th>
          <th scope="col" class="tc-endpoint">
            Endpoint
          </th>
          <th scope="col" class="tc-model hide-narrow">
            Model
          </th>
          <th scope="col" class="tc-region hide-narrow">
            Region
          </th>
          <th scope="col" class="tc-source hide-narrow">
            Source
          </th>
          <th scope="col" class="tc-status">
            Status
          </th>
          <th scope="col" class="tc-error hide-narrow">
            Error
          </th>
          <th scope="col" class="tc-latency">
            Latency
          </th>
          <th scope="col" class="tc-tokens hide-narrow">
            Tokens
          </th>
        </tr>
      </thead>
      <tbody>{rows}</tbody>
    </table>
  );
}
