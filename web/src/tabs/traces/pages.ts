/**
 * The calls of a query, page by page: the first page whenever the query, the page size or the
 * attempt changes (an older answer that arrives late is dropped), then "load more" by cursor,
 * dropping calls already shown.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, apiUrl, fetchJson, type Query } from '../../api';
import type { TraceEvent, TracesAnswer } from '../../types';

export interface Page {
  items: TraceEvent[];
  next: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | undefined;
  moreError: ApiError | undefined;
  duplicatesDropped: number;
  /** Bumped when a first page arrives: a new set of calls (the table starts again from its first rows). */
  firstPage: number;
}

const EMPTY_PAGE: Page = {
  items: [],
  next: null,
  loading: true,
  loadingMore: false,
  error: undefined,
  moreError: undefined,
  duplicatesDropped: 0,
  firstPage: 0,
};

/** Any failure as an ApiError, for the error states. */
const asApiError = (error: unknown): ApiError =>
  error instanceof ApiError ? error : new ApiError(0, 'Something went wrong', String(error));

export function useTracePages(query: Query, limit: string) {
  const queryKey = JSON.stringify(query);
  const [page, setPage] = useState<Page>(EMPTY_PAGE);
  const [attempt, setAttempt] = useState(0);
  const generation = useRef(0);

  useEffect(() => {
    const gen = ++generation.current;
    setPage((p) => ({ ...EMPTY_PAGE, items: p.items, firstPage: p.firstPage, loading: true }));
    fetchJson<TracesAnswer>(apiUrl('/traces', { ...query, limit })).then(
      (answer) => {
        if (gen !== generation.current) return;
        setPage((p) => ({
          ...EMPTY_PAGE,
          items: answer.items,
          next: answer.nextCursor,
          loading: false,
          firstPage: p.firstPage + 1,
        }));
      },
      (error: unknown) => {
        if (gen !== generation.current) return;
        setPage((p) => ({
          ...EMPTY_PAGE,
          loading: false,
          error: asApiError(error),
          firstPage: p.firstPage,
        }));
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
          moreError: asApiError(error),
        }));
      },
    );
  };
  return { page, loadMore, retry: () => setAttempt((n) => n + 1) };
}
