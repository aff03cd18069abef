/**
 * Talking to the API: same-origin GETs, answers cached briefly (tabs share
 * them), failures turned into ApiError carrying the problem+json `detail`.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export type Query = Record<string, string | number | boolean | null | undefined>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly requestId?: string,
  ) {
    super(detail || title);
  }
}

/** `path?query`, leaving out empty values. */
export function apiUrl(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(name, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

const CACHE_MS = 10_000;
const cache = new Map<string, { at: number; value: Promise<unknown> }>();

export async function fetchJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, signal: signal ?? null });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(
      0,
      'The API did not answer',
      'Check your connection; the request never got an answer.',
    );
  }
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok) {
    let title = response.statusText || `HTTP ${response.status}`;
    let detail = '';
    if (type.includes('json')) {
      try {
        const problem = (await response.json()) as { title?: unknown; detail?: unknown };
        if (typeof problem.title === 'string') title = problem.title;
        if (typeof problem.detail === 'string') detail = problem.detail;
      } catch {
        // A broken error body: the status line is all there is.
      }
    }
    throw new ApiError(
      response.status,
      title,
      detail || `The API answered ${response.status}.`,
      response.headers.get('x-request-id') ?? undefined,
    );
  }
  if (!type.includes('json')) {
    throw new ApiError(
      response.status,
      'Unexpected answer',
      `Expected JSON from ${url}, got ${type || 'nothing'}.`,
    );
  }
  return (await response.json()) as T;
}

/** A cached GET: the same URL within a few seconds (or forever with `keep`) is one request. */
function getCached<T>(url: string, options: { fresh?: boolean; keep?: boolean } = {}): Promise<T> {
  const hit = cache.get(url);
  if (!options.fresh && hit && (options.keep || Date.now() - hit.at < CACHE_MS))
    return hit.value as Promise<T>;
  const value = fetchJson<T>(url);
  cache.set(url, { at: Date.now(), value });
  value.catch(() => {
    if (cache.get(url)?.value === value) cache.delete(url);
  });
  return value;
}

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** A request is on its way (data may be the previous answer). */
  loading: boolean;
  /** The data shown answers another query (the range or a filter changed); the new answer is on its way. */
  stale: boolean;
  retry: () => void;
}

/**
 * The answer of a GET that follows `url` (null: nothing to fetch). A new URL
 * keeps the previous data on screen until the new answer arrives; `tick`
 * changes re-fetch past the cache (auto-refresh).
 */
export function useApi<T>(url: string | null, tick = 0, keep = false): ApiState<T> {
  const [state, setState] = useState<{ data?: T; dataUrl?: string; error?: ApiError; loading: boolean }>({
    loading: url !== null,
  });
  const [attempt, setAttempt] = useState(0);
  const lastTick = useRef(tick);

  useEffect(() => {
    if (url === null) {
      setState({ loading: false });
      return;
    }
    let live = true;
    const fresh = lastTick.current !== tick || attempt > 0;
    lastTick.current = tick;
    // Unchanged state when already loading (the first request): no re-render of the whole tree for nothing.
    setState((s) => (s.loading ? s : { ...s, loading: true }));
    getCached<T>(url, { fresh, keep }).then(
      (data) => live && setState({ data, dataUrl: url, loading: false }),
      (error: unknown) =>
        live &&
        setState((s) => ({
          // A failed refresh keeps the answer on screen; a failed new query does not.
          ...(s.dataUrl === url ? { data: s.data, dataUrl: url } : {}),
          error: error instanceof ApiError ? error : new ApiError(0, 'Something went wrong', String(error)),
          loading: false,
        })),
    );
    return () => {
      live = false;
    };
  }, [url, tick, attempt, keep]);

  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    stale: state.loading && state.data !== undefined && state.dataUrl !== url,
    retry: () => setAttempt((n) => n + 1),
  };
}
