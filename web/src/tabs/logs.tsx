/**
 * Logs: hybrid search over the ingested and simulated log lines with the
 * shared range and endpoint filter (plus level), hits with the query's terms
 * highlighted and their rank in each list; a hit opens its trace in the Traces
 * tab. The simulator's switch and "index now" need the ingest key, which is
 * kept in this browser's local storage only.
 */
import { useState } from 'preact/hooks';
import type { LogLine } from '../../../shared/logs/schema.js';
import type { LogHit, SearchAnswer } from '../../../shared/logs/search.js';
import type { SimulatorStatus } from '../../../shared/logs/simulator-status.js';
import { apiUrl, useApi } from '../api';
import { Async, EmptyState, Panel } from '../components';
import { dateTime } from '../format';
import { rangeMinutes, useShared, useStore } from '../state';
import { displayText } from '../text';

export interface LogsStatus {
  simulator: SimulatorStatus;
  indexer: { pending: number; pendingCapped: boolean; intervalMs: number; index: { key: string } | null };
  embedder: { kind: string; model: string; semantic: boolean };
}

const KEY_STORAGE = 'ingestKey';
const LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'];

/** The ingest key this browser keeps (local storage only), shared by the Logs and Chat tabs. */
export function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The message with the matched terms wrapped in <mark>. */
function Highlighted(props: { text: string; terms: string[] }) {
  const text = displayText(props.text);
  if (props.terms.length === 0) return <>{text}</>;
  const pattern = new RegExp(`(${props.terms.map(escapeRegExp).join('|')})`, 'gi');
  const wanted = new Set(props.terms.map((t) => t.toLowerCase()));
  return (
    <>
      {text
        .split(pattern)
        .map((part, i) => (wanted.has(part.toLowerCase()) ? <mark key={i}>{part}</mark> : part))}
    </>
  );
}

function Hit(props: { hit: LogHit; onOpenTrace: (hit: LogHit) => void }) {
  const { line, ranks } = props.hit;
  return (
    <li class="log-hit" data-testid="log-hit" data-id={line.id}>
      <div class="log-meta">
        <span class={`badge log-level log-${line.level}`}>{line.level}</span>
        <time dateTime={new Date(line.ts).toISOString()}>{dateTime(line.ts)}</time>
        {[line.endpoint, line.model, line.region, line.service].filter(Boolean).map((label) => (
          <span key={label} class="log-label">
            {displayText(label as string)}
          </span>
        ))}
        <span class="log-ranks" title="Rank in the full-text list and in the vector list">
          bm25 {ranks.bm25 ?? '–'} · vector {ranks.vector ?? '–'}
        </span>
      </div>
      <p class="log-message">
        <Highlighted text={line.message} terms={props.hit.matched} />
      </p>
      <div class="log-actions">
        {line.traceId ? (
          <button type="button" class="btn btn-small" onClick={() => props.onOpenTrace(props.hit)}>
            Open trace
          </button>
        ) : null}
        <a class="btn btn-small btn-ghost" href={`/logs/${encodeURIComponent(line.id)}`}>
          Line JSON
        </a>
        {line.requestId ? <code class="log-id">{displayText(line.requestId)}</code> : null}
      </div>
    </li>
  );
}

/** The log simulator's and the indexer's controls, behind the ingest key (also on the Chat tab). */
export function LogControls(props: { status: LogsStatus | undefined; onChanged: () => void }) {
  const [key, setKey] = useState(storedKey);
  const [message, setMessage] = useState('');
  const saveKey = (value: string) => {
    setKey(value);
    try {
      if (value) localStorage.setItem(KEY_STORAGE, value);
      else localStorage.removeItem(KEY_STORAGE);
    } catch {
      // Storage may be off: the key works for this page only.
    }
  };
  const call = async (path: string, done: (body: Record<string, unknown>) => string) => {
    setMessage('…');
    try {
      const response = await fetch(path, { method: 'POST', headers: { 'x-api-key': key } });
      const body = (await response.json()) as Record<string, unknown>;
      setMessage(response.ok ? done(body) : String(body.detail ?? `HTTP ${response.status}`));
      props.onChanged();
    } catch (error) {
      setMessage(String(error));
    }
  };
  const sim = props.status?.simulator;
  const indexer = props.status?.indexer;
  return (
    <Panel
      title="Simulator and indexer"
      subtitle="These actions need the ingest key; it stays in this browser's local storage."
      testId="logs-controls"
    >
      <div class="log-controls">
        <label class="field">
          <span>Ingest key</span>
          <input
            type="password"
            autoComplete="off"
            value={key}
            onInput={(e) => saveKey((e.currentTarget as HTMLInputElement).value)}
            data-testid="ingest-key"
          />
        </label>
        <p data-testid="sim-state">
          Log simulator: <strong>{sim ? (sim.running ? 'running' : 'stopped') : '…'}</strong>
          {sim?.running ? ` (a batch every ${Math.round(sim.intervalMs / 1000)} s)` : ''}
          {sim?.running && sim.source === 'config' ? (
            <span data-testid="sim-auto"> — started automatically on boot (LOG_SIM_ENABLED=1)</span>
          ) : null}
        </p>
        <button
          type="button"
          class="btn"
          disabled={!key}
          onClick={() => call('/logs/sim/start', (b) => `Simulator started: ${b.written} lines written`)}
        >
          Start simulator
        </button>
        <button
          type="button"
          class="btn"
          disabled={!key}
          onClick={() => call('/logs/sim/stop', () => 'Simulator stopped')}
        >
          Stop simulator
        </button>
        <p data-testid="index-backlog">
          Waiting for the indexer:{' '}
          <strong>{indexer ? `${indexer.pending}${indexer.pendingCapped ? '+' : ''} lines` : '…'}</strong>
        </p>
        <button
          type="button"
          class="btn"
          disabled={!key}
          data-testid="index-now"
          onClick={() =>
            call('/ai/index/logs', (b) => `Indexed ${b.indexed} lines; ${b.pending} still waiting`)
          }
        >
          Index now
        </button>
        <p class="log-message-line" role="status" data-testid="logs-action-result">
          {message}
        </p>
      </div>
    </Panel>
  );
}

/** One line opened by id (a chat citation links here with `line=<id>`). */
function CitedLine(props: { id: string; onClose: () => void }) {
  const state = useApi<LogLine>(`/logs/${encodeURIComponent(props.id)}`);
  return (
    <Panel
      title="Cited log line"
      testId="cited-line"
      actions={
        <button type="button" class="btn btn-small btn-ghost" onClick={props.onClose}>
          Close
        </button>
      }
    >
      <Async state={state} what="the log line">
        {(line) => (
          <div class="log-hit" data-id={line.id}>
            <div class="log-meta">
              <span class={`badge log-level log-${line.level}`}>{line.level}</span>
              <time dateTime={new Date(line.ts).toISOString()}>{dateTime(line.ts)}</time>
              {[line.endpoint, line.model, line.region, line.service].filter(Boolean).map((label) => (
                <span key={label} class="log-label">
                  {displayText(label as string)}
                </span>
              ))}
            </div>
            <p class="log-message">{displayText(line.message)}</p>
            <code class="log-id">{displayText(line.id)}</code>
          </div>
        )}
      </Async>
    </Panel>
  );
}

export function LogsTab() {
  const { params, set } = useStore();
  const { tick } = useShared();
  const [text, setText] = useState(params.q ?? '');
  const [changes, setChanges] = useState(0);
  const status = useApi<LogsStatus>('/logs/status', tick + changes);
  const url = params.q
    ? apiUrl('/logs/search', {
        query: params.q,
        window: rangeMinutes(params),
        endpoint: params.endpoint,
        level: params.level,
        k: 50,
      })
    : null;
  const answer = useApi<SearchAnswer>(url, tick + changes);
  // Exactly the line's trace: the Traces tab reads its calls by trace id around the line's time.
  const openTrace = (hit: LogHit) =>
    set({
      tab: 'traces',
      source: 'all',
      traceId: hit.line.traceId,
      traceAt: String(hit.line.ts),
      endpoint: undefined,
      model: undefined,
      q: undefined,
    });
  const embedder = status.data?.embedder;

  return (
    <div class="stack">
      {params.line ? <CitedLine id={params.line} onClose={() => set({ line: undefined })} /> : null}
      <Panel title="Log search" subtitle="Full text and vectors fused by rank (RRF).">
        <form
          class="log-search"
          onSubmit={(event) => {
            event.preventDefault();
            set({ q: text.trim() || undefined });
            setChanges((n) => n + 1);
          }}
        >
          <input
            type="search"
            value={text}
            placeholder="context_length_exceeded, a request id, rate limit…"
            aria-label="Search the logs"
            data-testid="log-query"
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          <select
            aria-label="Level"
            value={params.level ?? ''}
            onChange={(e) => set({ level: (e.currentTarget as HTMLSelectElement).value || undefined })}
          >
            <option value="">All levels</option>
            {LEVELS.map((level) => (
              <option key={level} value={level}>
                {level}
              </option>
            ))}
          </select>
          <button type="submit" class="btn">
            Search
          </button>
        </form>
        {url === null ? (
          <EmptyState title="Search the logs">
            Type words, an error code or a request id. Start the simulator below to get lines.
          </EmptyState>
        ) : (
          <Async state={answer} what="log search">
            {(data) =>
              data.hits.length === 0 ? (
                <EmptyState title="No matching lines">
                  Nothing in this range matches; try a wider range.
                </EmptyState>
              ) : (
                <>
                  <p class="panel-sub" data-testid="log-mode">
                    {data.hits.length} of {data.candidates} lines · mode {data.mode}
                    {data.tail.lines > 0 ? ` · ${data.tail.lines} not yet indexed searched by full text` : ''}
                  </p>
                  <ol class="log-hits">
                    {data.hits.map((hit) => (
                      <Hit key={hit.id} hit={hit} onOpenTrace={openTrace} />
                    ))}
                  </ol>
                </>
              )
            }
          </Async>
        )}
        {/* Last in the panel: its arrival (and length) moves nothing. */}
        <p class="panel-sub">
          {embedder
            ? `Embedder: ${embedder.model}${embedder.semantic ? '' : ' (local hashing, not semantic)'}.`
            : '\u00a0'}
        </p>
      </Panel>
      <LogControls status={status.data} onChanged={() => setChanges((n) => n + 1)} />
    </div>
  );
}
