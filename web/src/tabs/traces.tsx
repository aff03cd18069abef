/**
 * Traces: the raw calls from `/traces`, newest first, with every filter, paging
 * by cursor ("load more"), CSV and NDJSON export, a call's full detail, and the
 * latency histogram of the selected endpoint.
 */
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, apiUrl, fetchJson, type Query, useApi } from '../api';
import { Async, EmptyState, ErrorState, Panel, Skeleton } from '../components';
import { dateTime, ms, num, usd } from '../format';
import { rangeMinutes, useShared, useStore } from '../state';
import { displayText } from '../text';
import type { ErrorType, HistogramAnswer, TraceEvent, TracesAnswer } from '../types';

const LIMITS = ['50', '100', '200', '500'];

interface Page {
  items: TraceEvent[];
  next: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | undefined;
  moreError: ApiError | undefined;
  duplicatesDropped: number;
}

const EMPTY_PAGE: Page = {
  items: [],
  next: null,
  loading: true,
  loadingMore: false,
  error: undefined,
  moreError: undefined,
  duplicatesDropped: 0,
};

function FilterField(props: { label: string; for: string; children: JSX.Element; hint?: string }) {
  return (
    <label class="field" for={props.for}>
      <span>{props.label}</span>
      {props.children}
      {props.hint ? <span class="hint">{props.hint}</span> : null}
    </label>
  );
}

/** A text filter applied on Enter or blur (not on every key, which would fire a request each). */
function TextFilter(props: {
  value: string;
  placeholder: string;
  onCommit: (v: string) => void;
  name: string;
  id: string;
}) {
  const [draft, setDraft] = useState(props.value);
  useEffect(() => setDraft(props.value), [props.value]);
  return (
    <input
      type="text"
      name={props.name}
      id={props.id}
      value={draft}
      placeholder={props.placeholder}
      autocomplete="off"
      spellcheck={false}
      onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') props.onCommit(draft.trim());
      }}
      onBlur={() => {
        if (draft.trim() !== props.value) props.onCommit(draft.trim());
      }}
    />
  );
}

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

function Field(props: { label: string; value: unknown; mono?: boolean }) {
  const { value } = props;
  if (value === undefined || value === null || value === '') return null;
  return (
    <div class="kv-row">
      <dt>{props.label}</dt>
      <dd class={props.mono ? 'mono' : undefined}>{displayText(String(value))}</dd>
    </div>
  );
}

function Detail(props: { event: TraceEvent; onClose: () => void; onFilter: (endpoint: string) => void }) {
  const e = props.event;
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    // Keyboard users land in the detail; wide screens show it beside the table, so no scrolling there.
    ref.current?.focus({ preventScroll: matchMedia('(min-width: 901px)').matches });
  }, [e.id]);
  const timing = (e.timing ?? {}) as Record<string, unknown>;
  const phase = (k: string) => (typeof timing[k] === 'number' ? ms(timing[k] as number) : undefined);
  const rl = e.rateLimit ?? {};
  return (
    <aside
      class="detail"
      ref={ref}
      tabIndex={-1}
      aria-label="Call detail"
      data-testid="trace-detail"
      onKeyDown={(ev) => {
        if (ev.key === 'Escape') props.onClose();
      }}
    >
      <header class="detail-head">
        <h3>
          <span class={e.ok ? 'status-ok' : 'status-fail'}>{e.ok ? 'Succeeded' : 'Failed'}</span> ·{' '}
          <span class="mono">{displayText(e.endpoint)}</span>
        </h3>
        <button
          type="button"
          class="btn btn-ghost"
          onClick={props.onClose}
          aria-label="Close the call detail"
        >
          ✕
        </button>
      </header>
      <dl class="kv">
        <Field label="Request id" value={e.requestId ?? '(none)'} mono />
        <Field label="Time" value={`${dateTime(e.ts)} (${e.ts})`} />
        <Field label="HTTP status" value={e.status ?? 'no answer'} />
        <Field label="Error type" value={e.errorType} />
        <Field label="Error" value={e.errorMessage} />
        <Field label="Latency" value={ms(e.latencyMs)} />
        <Field
          label="OpenAI processing (openai-processing-ms)"
          value={e.processingMs === undefined ? undefined : ms(e.processingMs)}
        />
        <Field label="Model" value={e.model} mono />
        <Field label="Region" value={e.region} />
        <Field label="Source" value={e.source} />
        <Field label="Upstream" value={e.upstream} />
        <Field label="Input tokens" value={e.usage?.input} />
        <Field label="Output tokens" value={e.usage?.output} />
        <Field label="Cached tokens" value={e.usage?.cached} />
        <Field label="Reasoning tokens" value={e.usage?.reasoning} />
        <Field label="Estimated cost" value={e.costUsd === undefined ? undefined : usd(e.costUsd)} />
        <Field label="Response bytes" value={e.responseBytes} />
        <Field label="DNS" value={phase('dnsMs')} />
        <Field label="Connect" value={phase('connectMs')} />
        <Field label="TLS" value={phase('tlsMs')} />
        <Field label="Time to first byte" value={phase('ttfbMs')} />
        <Field label="Transfer" value={phase('transferMs')} />
        <Field label="Time to first token" value={phase('ttftMs')} />
        <Field
          label="Connection reused"
          value={timing.reused === undefined ? undefined : timing.reused ? 'yes' : 'no'}
        />
        <Field
          label="Requests left (x-ratelimit)"
          value={
            rl.remainingRequests === undefined
              ? undefined
              : `${rl.remainingRequests} of ${rl.limitRequests ?? '?'}`
          }
        />
        <Field
          label="Tokens left (x-ratelimit)"
          value={
            rl.remainingTokens === undefined ? undefined : `${rl.remainingTokens} of ${rl.limitTokens ?? '?'}`
          }
        />
        <Field
          label="Requests reset in"
          value={rl.resetRequestsMs === undefined ? undefined : ms(rl.resetRequestsMs)}
        />
        <Field
          label="Tokens reset in"
          value={rl.resetTokensMs === undefined ? undefined : ms(rl.resetTokensMs)}
        />
        <Field label="Trace id" value={e.traceId} mono />
        <Field label="Span id" value={e.spanId} mono />
        <Field label="Event id" value={e.id} mono />
      </dl>
      {e.attributes && Object.keys(e.attributes).length > 0 ? (
        <>
          <h4>Attributes</h4>
          <dl class="kv" data-testid="trace-attributes">
            {Object.entries(e.attributes).map(([k, v]) => (
              <div key={k} class="kv-row">
                <dt class="mono">{displayText(k)}</dt>
                <dd class="mono">{displayText(String(v))}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : null}
      <div class="detail-actions">
        <button type="button" class="btn btn-small" onClick={() => props.onFilter(e.endpoint)}>
          Only this endpoint
        </button>
      </div>
    </aside>
  );
}

function Histogram(props: { data: HistogramAnswer }) {
  const { bins, percentiles } = props.data;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const marks = (['p50', 'p95', 'p99'] as const)
    .map((k) => ({ k, m: percentiles[k] }))
    .filter((x): x is { k: 'p50' | 'p95' | 'p99'; m: { value: number; bin: number } } => x.m !== null);
  const n = bins.length;
  return (
    <div class="histogram" data-testid="latency-histogram">
      <div
        class="histo-bars"
        role="img"
        aria-label={`Latency distribution of ${num(props.data.count)} calls: ${marks
          .map((x) => `${x.k} ${ms(x.m.value)}`)
          .join(', ')}`}
      >
        {bins.map((b) => (
          <div
            key={b.lower}
            class="histo-bar"
            style={{ height: `${(b.count / max) * 100}%` }}
            title={`${ms(b.lower)} – ${ms(b.upper)}: ${b.count}`}
          />
        ))}
        {marks.map(({ k, m }) => (
          <div
            key={k}
            class={`histo-mark mark-${k}`}
            style={{ left: `${((m.bin + 0.5) / Math.max(1, n)) * 100}%` }}
          >
            <span>
              {k} {ms(m.value)}
            </span>
          </div>
        ))}
      </div>
      <div class="histo-axis" aria-hidden="true">
        <span>{ms(bins[0]?.lower)}</span>
        <span>{props.data.scale === 'log' ? 'log-scaled bins' : 'linear bins'}</span>
        <span>{ms(bins.at(-1)?.upper)}</span>
      </div>
    </div>
  );
}

export function TracesTab() {
  const { params, set } = useStore();
  const { config, tick } = useShared();
  const [refresh, setRefresh] = useState(0);
  const limit = LIMITS.includes(params.limit ?? '') ? (params.limit as string) : '100';
  const filters = {
    endpoint: params.endpoint,
    model: params.model,
    region: params.region,
    source: params.source === 'all' ? undefined : params.source,
    ok: params.ok,
    errorType: params.errorType,
    status: params.status,
  };
  const filterKey = JSON.stringify([filters, params.range]);
  // The range is pinned when the filters or range change (or on Refresh), so paging keeps meaning the same calls.
  const pinned = useMemo(() => Date.now(), [filterKey, refresh]);
  const query: Query = useMemo(() => {
    const from = pinned - rangeMinutes(params) * 60_000;
    return { from, to: pinned, ...filters };
  }, [filterKey, pinned]);
  const queryKey = JSON.stringify(query);

  const [page, setPage] = useState<Page>(EMPTY_PAGE);
  const [attempt, setAttempt] = useState(0);
  const generation = useRef(0);

  useEffect(() => {
    const gen = ++generation.current;
    setPage((p) => ({ ...EMPTY_PAGE, items: p.items, loading: true }));
    fetchJson<TracesAnswer>(apiUrl('/traces', { ...query, limit })).then(
      (answer) => {
        if (gen !== generation.current) return;
        setPage({ ...EMPTY_PAGE, items: answer.items, next: answer.nextCursor, loading: false });
      },
      (error: unknown) => {
        if (gen !== generation.current) return;
        setPage({
          ...EMPTY_PAGE,
          loading: false,
          error: error instanceof ApiError ? error : new ApiError(0, 'Something went wrong', String(error)),
        });
      },
    );
  }, [queryKey, limit, attempt]);

  const loadMore = () => {
    if (!page.next || page.loadingMore) return;
    const gen = generation.current;
    setPage((p) => ({ ...p, loadingMore: true, moreError: undefined }));
    fetchJson<TracesAnswer>(apiUrl('/traces', { ...query, limit, cursor: page.next })).then(
      (answer) => {
        if (gen !== generation.current) return;
        setPage((p) => {
          const seen = new Set(p.items.map((i) => i.id));
          const fresh = answer.items.filter((i) => !seen.has(i.id));
          return {
            ...p,
            items: [...p.items, ...fresh],
            next: answer.nextCursor,
            loadingMore: false,
            duplicatesDropped: p.duplicatesDropped + answer.items.length - fresh.length,
          };
        });
      },
      (error: unknown) => {
        if (gen !== generation.current) return;
        setPage((p) => ({
          ...p,
          loadingMore: false,
          moreError:
            error instanceof ApiError ? error : new ApiError(0, 'Something went wrong', String(error)),
        }));
      },
    );
  };

  const selected = page.items.find((i) => i.id === params.trace);
  const histEndpoint = selected?.endpoint ?? params.endpoint;
  const histogram = useApi<HistogramAnswer>(
    apiUrl('/latency_histogram', {
      window: rangeMinutes(params),
      source: params.source,
      endpoint: histEndpoint,
      model: params.model,
      region: params.region,
    }),
    tick,
  );

  const exportQuery = { ...query };
  const errorTypes: readonly ErrorType[] = config?.errorTypes ?? [];
  const endpoints = config?.probes.endpoints ?? [];

  return (
    <div class="stack">
      <Panel
        title="Traces"
        subtitle={`Calls from ${dateTime(query.from as number)} to ${dateTime(query.to as number)}, newest first`}
        testId="traces-panel"
        actions={
          <div class="controls">
            <button type="button" class="btn" onClick={() => setRefresh((n) => n + 1)}>
              Refresh
            </button>
            <a
              class="btn"
              href={apiUrl('/traces', { ...exportQuery, format: 'csv' })}
              download
              data-testid="export-csv"
            >
              Export CSV
            </a>
            <a
              class="btn"
              href={apiUrl('/traces', { ...exportQuery, format: 'ndjson' })}
              download
              data-testid="export-ndjson"
            >
              Export NDJSON
            </a>
          </div>
        }
      >
        <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Trace filters">
          <FilterField label="Endpoint" for="tf-endpoint">
            <TextFilter
              name="endpoint"
              id="tf-endpoint"
              value={params.endpoint ?? ''}
              placeholder={endpoints.slice(0, 3).join(', ') || 'any'}
              onCommit={(v) => set({ endpoint: v, trace: undefined })}
            />
          </FilterField>
          <FilterField label="Model" for="tf-model">
            <TextFilter
              name="model"
              id="tf-model"
              value={params.model ?? ''}
              placeholder="any"
              onCommit={(v) => set({ model: v, trace: undefined })}
            />
          </FilterField>
          <FilterField label="Region" for="tf-region">
            <TextFilter
              name="region"
              id="tf-region"
              value={params.region ?? ''}
              placeholder="any"
              onCommit={(v) => set({ region: v, trace: undefined })}
            />
          </FilterField>
          <FilterField label="Result" for="tf-ok">
            <select
              name="ok"
              id="tf-ok"
              value={params.ok ?? ''}
              onChange={(e) => set({ ok: (e.currentTarget as HTMLSelectElement).value, trace: undefined })}
            >
              <option value="">Any</option>
              <option value="true">Succeeded</option>
              <option value="false">Failed</option>
            </select>
          </FilterField>
          <FilterField label="Error type" for="tf-errorType">
            <select
              name="errorType"
              id="tf-errorType"
              value={params.errorType ?? ''}
              onChange={(e) =>
                set({ errorType: (e.currentTarget as HTMLSelectElement).value, trace: undefined })
              }
            >
              <option value="">Any</option>
              {errorTypes.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </FilterField>
          <FilterField label="HTTP status" for="tf-status">
            <TextFilter
              name="status"
              id="tf-status"
              value={params.status ?? ''}
              placeholder="e.g. 429,500"
              onCommit={(v) => set({ status: v, trace: undefined })}
            />
          </FilterField>
          <FilterField label="Page size" for="tf-limit">
            <select
              name="limit"
              id="tf-limit"
              value={limit}
              onChange={(e) => {
                const v = (e.currentTarget as HTMLSelectElement).value;
                set({ limit: v === '100' ? undefined : v });
              }}
            >
              {LIMITS.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          </FilterField>
        </form>

        {page.error ? (
          <ErrorState error={page.error} retry={() => setAttempt((n) => n + 1)} what="the traces" />
        ) : page.loading && page.items.length === 0 ? (
          <Skeleton lines={8} label="Loading traces…" />
        ) : page.items.length === 0 ? (
          <EmptyState title="No calls match">
            No calls in this range match these filters. Widen the range or clear a filter.
          </EmptyState>
        ) : (
          <div class={`traces-layout ${selected ? 'has-detail' : ''}`}>
            <div class={page.loading ? 'is-updating' : undefined}>
              <div class="traces-scroll">
                <table
                  class="table traces-table"
                  data-testid="traces-table"
                  data-duplicates-dropped={page.duplicatesDropped}
                >
                  <caption class="visually-hidden">
                    Calls, newest first. Open a row for its full detail.
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
                    {page.items.map((event) => (
                      <Row
                        key={event.id}
                        event={event}
                        selected={event.id === params.trace}
                        onOpen={() => set({ trace: event.id === params.trace ? undefined : event.id })}
                      />
                    ))}
                  </tbody>
                </table>
              </div>
              <div class="table-foot">
                <span class="muted small" data-testid="traces-count">
                  {page.items.length} call{page.items.length === 1 ? '' : 's'} shown
                  {page.next ? '' : ' · end of range'}
                </span>
                {page.next ? (
                  <button
                    type="button"
                    class="btn"
                    onClick={loadMore}
                    disabled={page.loadingMore}
                    data-testid="load-more"
                  >
                    {page.loadingMore ? 'Loading…' : 'Load more'}
                  </button>
                ) : null}
              </div>
              {page.moreError ? (
                <ErrorState error={page.moreError} retry={loadMore} what="the next page" />
              ) : null}
            </div>
            {selected ? (
              <Detail
                event={selected}
                onClose={() => set({ trace: undefined })}
                onFilter={(endpoint) => set({ endpoint, trace: undefined })}
              />
            ) : null}
          </div>
        )}
      </Panel>

      <Panel
        title="Latency histogram"
        subtitle={
          histEndpoint
            ? `endpoint ${displayText(histEndpoint)}`
            : 'all endpoints · open a call or filter by endpoint'
        }
        testId="histogram-panel"
      >
        <Async state={histogram} what="the latency histogram" isEmpty={(h) => h.count === 0} height={180}>
          {(h) => <Histogram data={h} />}
        </Async>
      </Panel>
    </div>
  );
}
