/** The table of calls, newest first: one row a call, opened for its detail. */
import { dateTime, ms, num } from '../../format';
import { displayText } from '../../text';
import type { TraceEvent } from '../../types';

function Row(props: { event: TraceEvent; selected: boolean; current: boolean; onOpen: () => void }) {
  const e = props.event;
  const tokens = e.usage ? (e.usage.input ?? 0) + (e.usage.output ?? 0) : undefined;
  return (
    <tr
      class={props.selected ? 'is-selected' : ''}
      aria-selected={props.selected}
      data-id={e.id}
      onClick={props.onOpen}
      data-testid="trace-row"
    >
      <td class="nowrap">
        <button
          type="button"
          class="link row-open"
          onClick={(ev) => {
            ev.stopPropagation();
            props.onOpen();
          }}
          aria-label={`Open call ${displayText(e.id)} of ${dateTime(e.ts)}`}
          aria-expanded={props.selected}
          tabIndex={props.current ? 0 : -1}
        >
          {dateTime(e.ts)}
        </button>
      </td>
      <td class="mono">{displayText(e.endpoint)}</td>
      <td class="mono hide-narrow">{displayText(e.model ?? '—')}</td>
      <td class="hide-narrow">{displayText(e.region ?? '—')}</td>
      <td class="hide-narrow">{displayText(e.source)}</td>
      <td>
        <span class={e.ok ? 'status-ok' : 'status-fail'}>
          <span aria-hidden="true">{e.ok ? '✓ ' : '✗ '}</span>
          {e.status ?? '—'}
        </span>
      </td>
      <td class="hide-narrow">{displayText(e.errorType ?? '')}</td>
      <td class="num">{ms(e.latencyMs)}</td>
      <td class="num hide-narrow">{tokens === undefined ? '—' : num(tokens)}</td>
    </tr>
  );
}

export function TracesTable(props: {
  items: TraceEvent[];
  selectedId: string | undefined;
  duplicatesDropped: number;
  onOpen: (id: string) => void;
}) {
  const { items, duplicatesDropped } = props;
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
  return (
    <table
      class="table traces-table"
      data-testid="traces-table"
      data-duplicates-dropped={duplicatesDropped}
      onKeyDown={onKeyDown}
    >
      <caption class="visually-hidden">
        Calls, newest first. Up and down arrows move between calls, Enter opens one, Tab leaves the table.
      </caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Endpoint</th>
          <th scope="col" class="hide-narrow">
            Model
          </th>
          <th scope="col" class="hide-narrow">
            Region
          </th>
          <th scope="col" class="hide-narrow">
            Source
          </th>
          <th scope="col">Status</th>
          <th scope="col" class="hide-narrow">
            Error
          </th>
          <th scope="col">Latency</th>
          <th scope="col" class="hide-narrow">
            Tokens
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((event) => (
          <Row
            key={event.id}
            event={event}
            selected={event.id === props.selectedId}
            current={event.id === current}
            onOpen={() => props.onOpen(event.id)}
          />
        ))}
      </tbody>
    </table>
  );
}
