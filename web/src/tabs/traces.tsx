/**
 * Traces: the raw calls from `/traces`, newest first, with every filter, paging
 * by cursor ("load more"), CSV and NDJSON export, a call's full detail, and the
 * latency histogram of the selected endpoint.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiUrl, type Query, useApi } from '../api';
import { Async, EmptyState, ErrorState, Panel, Skeleton } from '../components';
import { dateTime } from '../format';
import { rangeMinutes, useShared, useStore } from '../state';
import { displayText } from '../text';
import type { HistogramAnswer } from '../types';
import { Detail } from './traces/detail';
import { pageLimit, TraceFilters } from './traces/filters';
import { Histogram } from './traces/histogram';
import { useTracePages } from './traces/pages';
import { TracesTable } from './traces/table';

export function TracesTab() {
  const { params, set } = useStore();
  const { config, tick } = useShared();
  const [refresh, setRefresh] = useState(0);
  const limit = pageLimit(params);
  const filters = {
    endpoint: params.endpoint,
    model: params.model,
    region: params.region,
    source: params.source === 'all' ? undefined : params.source,
    ok: params.ok,
    errorType: params.errorType,
    status: params.status,
    traceId: params.traceId,
  };
  const filterKey = JSON.stringify([filters, params.range, params.traceAt]);
  // The range is pinned when the filters or range change (or on Refresh), so paging keeps meaning the same calls.
  const pinned = useMemo(() => Date.now(), [filterKey, refresh]);
  const query: Query = useMemo(() => {
    // A trace opened from a log line: its calls start up to 30 minutes before the line, and a little after.
    const at = Number(params.traceAt);
    if (params.traceId && Number.isFinite(at)) {
      return { from: at - 30 * 60_000, to: Math.min(at + 5 * 60_000, pinned), ...filters };
    }
    const from = pinned - rangeMinutes(params) * 60_000;
    return { from, to: pinned, ...filters };
  }, [filterKey, pinned]);
  const { page, loadMore, retry } = useTracePages(query, limit);

  const selected = page.items.find((i) => i.id === params.trace);
  // Closing the detail puts focus back on the row it was opened from (not on the page's body).
  const returnFocusTo = useRef<string | undefined>(undefined);
  // The table's open handler keeps its identity (the table keeps its rows' elements); it reads the
  // open call through a ref.
  const openTrace = useRef(params.trace);
  openTrace.current = params.trace;
  const onOpen = useCallback(
    (id: string) => {
      if (id === openTrace.current) returnFocusTo.current = id;
      set({ trace: id === openTrace.current ? undefined : id });
    },
    [set],
  );
  // The config, /status and histogram answers re-render this tab: the table is the same element then,
  // so Preact skips it. A new first page remounts it (key), so it starts again from its first rows.
  const table = useMemo(
    () => (
      <TracesTable
        key={page.firstPage}
        items={page.items}
        selectedId={params.trace}
        duplicatesDropped={page.duplicatesDropped}
        onOpen={onOpen}
      />
    ),
    [page.firstPage, page.items, params.trace, page.duplicatesDropped, onOpen],
  );
  useEffect(() => {
    const id = returnFocusTo.current;
    if (id === undefined || params.trace !== undefined) return;
    returnFocusTo.current = undefined;
    const row = [...document.querySelectorAll<HTMLElement>('[data-testid="trace-row"]')].find(
      (r) => r.dataset.id === id,
    );
    row?.querySelector<HTMLElement>('.row-open')?.focus();
  }, [params.trace]);
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
            {(['csv', 'ndjson'] as const).map((format) => (
              <a
                key={format}
                class="btn"
                href={apiUrl('/traces', { ...exportQuery, format })}
                download
                data-testid={`export-${format}`}
              >
                {`Export ${format.toUpperCase()}`}
              </a>
            ))}
          </div>
        }
      >
        {params.traceId ? (
          <p class="muted" data-testid="trace-filter">
            {`Calls of trace ${params.traceId} `}
            <button
              type="button"
              class="btn btn-small"
              onClick={() => set({ traceId: undefined, traceAt: undefined })}
            >
              Show all calls
            </button>
          </p>
        ) : null}
        <TraceFilters
          params={params}
          set={set}
          limit={limit}
          errorTypes={config?.errorTypes}
          endpoints={endpoints}
        />

        {page.error ? (
          <ErrorState error={page.error} retry={retry} what="the traces" />
        ) : page.loading && page.items.length === 0 ? (
          <Skeleton box="box-traces" label="Loading traces…" />
        ) : page.items.length === 0 ? (
          <EmptyState title="No calls match">
            No calls in this range match these filters. Widen the range or clear a filter.
          </EmptyState>
        ) : (
          <div class={`traces-layout ${selected ? 'has-detail' : ''}`}>
            <div class={page.loading ? 'is-updating' : undefined}>
              <div class="traces-scroll">{table}</div>
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
                onClose={() => {
                  returnFocusTo.current = selected.id;
                  set({ trace: undefined });
                }}
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
        <Async state={histogram} what="the latency histogram" isEmpty={(h) => h.count === 0} height={206}>
          {(h) => <Histogram data={h} />}
        </Async>
      </Panel>
    </div>
  );
}
