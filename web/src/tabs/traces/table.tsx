/**
 * The table of calls, newest first: one row a call, opened for its detail.
 *
 * Only the rows near the table's scrolling box are made: FIRST_ROWS at first (the box shows about 15
 * at 1280 × 720, 21 on a phone), then MORE_ROWS more whenever the last one made comes within a box's
 * height of view, or the keyboard moves past it. Making the default page of 100 at once was the
 * biggest task of the Traces tab's load (about 65 ms of script and 58 ms of style and layout on this
 * machine, unthrottled); rows added in idle slices instead cost more, since each slice lays the whole
 * table out again. "Load more" makes every row loaded: the visitor asked for them. The columns have
 * fixed widths (`table-layout: fixed`), so they do not move as rows arrive; `aria-rowcount` and
 * `aria-rowindex` tell assistive technology how many calls there are. Each row's element is kept while
 * its call, selection and Tab stop are unchanged, so opening a call re-renders two rows, not the page.
 */
import type { JSX, RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dateTime, ms, num } from '../../format';
import { NARROW_SCREEN, useMediaQuery } from '../../state';
import { displayText } from '../../text';
import type { TraceEvent } from '../../types';

/** Rows made at first: enough to fill the scrolling box on any common screen. */
export const FIRST_ROWS = 50;
/** Rows added each time the last row made comes near. */
export const MORE_ROWS = 50;

/**
 * How many of `total` rows to make: FIRST_ROWS, then MORE_ROWS more each time the last row made
 * comes within a box's height of the scrolling box around `body`; every row once the page grows
 * ("load more"); never fewer than `atLeast` (the open call's row). `showAtLeast` asks for more.
 */
function useRowsShown(
  total: number,
  atLeast: number,
  body: RefObject<HTMLTableSectionElement | null>,
): [number, (rows: number) => void] {
  const [wanted, setWanted] = useState(FIRST_ROWS);
  const [firstTotal] = useState(total);
  const shown = total > firstTotal ? total : Math.min(total, Math.max(wanted, atLeast));
  useEffect(() => {
    const last = body.current?.lastElementChild;
    if (!last || shown >= total || typeof IntersectionObserver !== 'function') return;
    // Observed afresh after each growth: its first callback says whether the new last row is near too.
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) setWanted(shown + MORE_ROWS);
      },
      { root: last.closest('.traces-scroll'), rootMargin: '0px 0px 100% 0px' },
    );
    observer.observe(last);
    return () => observer.disconnect();
  }, [shown, total, body]);
  return [shown, (rows) => setWanted((n) => Math.max(n, rows))];
}

/** A column after the first (the time, which opens the call): its header, its cell, and whether a phone shows it. */
interface Column {
  id: string;
  label: string;
  onPhone: boolean;
  cellClass?: (e: TraceEvent) => string;
  text: (e: TraceEvent) => string | number;
}

const COLUMNS: readonly Column[] = [
  {
    id: 'endpoint',
    label: 'Endpoint',
    onPhone: true,
    cellClass: () => 'mono',
    text: (e) => displayText(e.endpoint),
  },
  {
    id: 'model',
    label: 'Model',
    onPhone: false,
    cellClass: () => 'mono',
    text: (e) => displayText(e.model ?? '—'),
  },
  { id: 'region', label: 'Region', onPhone: false, text: (e) => displayText(e.region ?? '—') },
  { id: 'source', label: 'Source', onPhone: false, text: (e) => displayText(e.source) },
  // The ✓ / ✗ is drawn by CSS with empty alternative text: one cell, and the status is read as the number.
  {
    id: 'status',
    label: 'Status',
    onPhone: true,
    cellClass: (e) => (e.ok ? 'status-ok' : 'status-fail'),
    text: (e) => e.status ?? '—',
  },
  { id: 'error', label: 'Error', onPhone: false, text: (e) => displayText(e.errorType ?? '') },
  { id: 'latency', label: 'Latency', onPhone: true, cellClass: () => 'num', text: (e) => ms(e.latencyMs) },
  {
    id: 'tokens',
    label: 'Tokens',
    onPhone: false,
    cellClass: () => 'num',
    text: (e) => (e.usage ? num((e.usage.input ?? 0) + (e.usage.output ?? 0)) : '—'),
  },
];
/** On a phone five columns do not fit: their cells are not made at all (rather than made and hidden). */
const PHONE_COLUMNS = COLUMNS.filter((c) => c.onPhone);

function Row(props: {
  event: TraceEvent;
  /** The row's place among the calls, 0 first. */
  index: number;
  selected: boolean;
  current: boolean;
  columns: readonly Column[];
  onOpen: (id: string) => void;
}) {
  const e = props.event;
  const when = dateTime(e.ts);
  return (
    <tr
      class={props.selected ? 'is-selected' : undefined}
      aria-selected={props.selected}
      aria-rowindex={props.index + 2}
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
      {props.columns.map((c) => (
        <td key={c.id} class={c.cellClass?.(e)}>
          {c.text(e)}
        </td>
      ))}
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
  const body = useRef<HTMLTableSectionElement>(null);
  const selectedAt = items.findIndex((e) => e.id === props.selectedId);
  const [shown, showAtLeast] = useRowsShown(items.length, selectedAt + 1, body);
  const columns = useMediaQuery(NARROW_SCREEN) ? PHONE_COLUMNS : COLUMNS;
  const cache = useRef<{ columns: readonly Column[]; rows: RowCache }>({ columns, rows: new Map() });
  // One Tab stop for the whole table (the open call's row, else the first): the arrow keys move between
  // rows, and Tab goes on past the table rather than through every row.
  const current = selectedAt >= 0 ? props.selectedId : items[0]?.id;
  // The row the keyboard moved to before it was made: focused once it is.
  const focusWhenMade = useRef<number | undefined>(undefined);
  const moveFocus = (buttons: HTMLElement[], to: number) => {
    for (const b of buttons) b.tabIndex = -1;
    const button = buttons[to];
    if (button) {
      button.tabIndex = 0;
      button.focus();
    }
  };
  const rowButtons = () => [...(body.current?.querySelectorAll<HTMLElement>('.row-open') ?? [])];
  useEffect(() => {
    const at = focusWhenMade.current;
    if (at === undefined || at >= shown) return;
    focusWhenMade.current = undefined;
    moveFocus(rowButtons(), at);
  }, [shown]);
  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('row-open')) return;
    const buttons = rowButtons();
    const at = buttons.indexOf(target);
    let next = -1;
    if (event.key === 'ArrowDown') next = Math.min(items.length - 1, at + 1);
    else if (event.key === 'ArrowUp') next = Math.max(0, at - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = items.length - 1;
    if (next < 0) return;
    event.preventDefault();
    if (next < buttons.length) moveFocus(buttons, next);
    else {
      focusWhenMade.current = next;
      showAtLeast(next + 1);
    }
  };
  const rows: JSX.Element[] = [];
  const kept: RowCache = new Map();
  for (const [index, event] of items.slice(0, shown).entries()) {
    const selected = event.id === props.selectedId;
    const isCurrent = event.id === current;
    const old = cache.current.columns === columns ? cache.current.rows.get(event.id) : undefined;
    // The same element as last time: Preact skips the row without diffing it.
    const row =
      old && old.event === event && old.selected === selected && old.current === isCurrent ? (
        old.row
      ) : (
        <Row
          key={event.id}
          event={event}
          index={index}
          selected={selected}
          current={isCurrent}
          columns={columns}
          onOpen={onOpen}
        />
      );
    kept.set(event.id, { event, selected, current: isCurrent, row });
    rows.push(row);
  }
  cache.current = { columns, rows: kept };
  return (
    <table
      class="table traces-table"
      data-testid="traces-table"
      data-duplicates-dropped={duplicatesDropped}
      data-rows-shown={shown}
      aria-rowcount={items.length + 1}
      onKeyDown={onKeyDown}
    >
      <caption class="visually-hidden">
        Calls, newest first. Up and down arrows move between calls, Enter opens one, Tab leaves the table.
      </caption>
      <thead>
        <tr aria-rowindex={1}>
          <th scope="col" class="tc-time">
            Time
          </th>
          {columns.map((c) => (
            <th key={c.id} scope="col" class={`tc-${c.id}`}>
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody ref={body}>{rows}</tbody>
    </table>
  );
}
