/** The table of calls, newest first: one row a call, opened for its detail. */
import { dateTime, ms, num } from '../../format';
import { displayText } from '../../text';
import type { TraceEvent } from '../../types';

function Row(props: { event: TraceEvent; selected: boolean; onOpen: () => void }) {
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
  return (
    <table class="table traces-table" data-testid="traces-table" data-duplicates-dropped={duplicatesDropped}>
      <caption class="visually-hidden">Calls, newest first. Open a row for its full detail.</caption>
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
            onOpen={() => props.onOpen(event.id)}
          />
        ))}
      </tbody>
    </table>
  );
}
