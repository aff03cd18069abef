/**
 * The view's state lives in the URL (`?tab=status&range=1h&endpoint=chat`), so a
 * view can be shared; defaults are left out. Updated with history.replaceState.
 */
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import type { PublicConfig } from './types';

export const TABS = [
  { id: 'status', label: 'Status' },
  { id: 'slo', label: 'SLO' },
  { id: 'compare', label: 'Compare' },
  { id: 'heatmaps', label: 'Heatmaps' },
  { id: 'cost', label: 'Cost' },
  { id: 'traces', label: 'Traces' },
  { id: 'logs', label: 'Logs' },
  { id: 'chat', label: 'Chat' },
  { id: 'synthetics', label: 'Synthetics' },
  { id: 'alerts', label: 'Alerts' },
] as const;
export type TabId = (typeof TABS)[number]['id'];

export const RANGES = [
  { id: '15m', label: '15m', minutes: 15 },
  { id: '1h', label: '1h', minutes: 60 },
  { id: '6h', label: '6h', minutes: 360 },
  { id: '24h', label: '24h', minutes: 1440 },
  { id: '7d', label: '7d', minutes: 10_080 },
] as const;

const DEFAULTS: Record<string, string> = { tab: 'status', range: '1h', source: 'probe' };

export type Params = Readonly<Record<string, string>>;

function readUrl(): Params {
  const params: Record<string, string> = { ...DEFAULTS };
  for (const [name, value] of new URLSearchParams(location.search)) if (value !== '') params[name] = value;
  if (!TABS.some((t) => t.id === params.tab)) params.tab = DEFAULTS.tab as string;
  if (!RANGES.some((r) => r.id === params.range)) params.range = DEFAULTS.range as string;
  return params;
}

function writeUrl(params: Params): void {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== '' && DEFAULTS[name] !== value) search.set(name, value);
  }
  const qs = search.toString();
  history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
}

export interface Store {
  params: Params;
  /** Merges a patch; empty or undefined values are removed. */
  set: (patch: Record<string, string | undefined>) => void;
}

export function useUrlState(): Store {
  const [params, setParams] = useState<Params>(readUrl);
  useEffect(() => {
    const onPop = () => setParams(readUrl());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const set = useCallback((patch: Record<string, string | undefined>) => {
    setParams((old) => {
      const next: Record<string, string> = { ...old };
      for (const [name, value] of Object.entries(patch)) {
        if (value === undefined || value === '') delete next[name];
        else next[name] = value;
      }
      writeUrl(next);
      return next;
    });
  }, []);
  return { params, set };
}

export const StoreContext = createContext<Store>({ params: DEFAULTS, set: () => {} });
export const useStore = () => useContext(StoreContext);

export function rangeMinutes(params: Params): number {
  return RANGES.find((r) => r.id === params.range)?.minutes ?? 60;
}

/** The shared query of the read API for the current range and filters. */
export function baseQuery(params: Params, extra: Record<string, string | undefined> = {}) {
  return {
    window: rangeMinutes(params),
    source: params.source,
    endpoint: params.endpoint,
    ...extra,
  };
}

/** Context the tabs share: the auto-refresh tick and the app-wide config. */
export interface Shared {
  tick: number;
  /** Bumped when the colour theme changes (charts re-read their colours). */
  theme: string;
  config: PublicConfig | undefined;
}
export const SharedContext = createContext<Shared>({ tick: 0, theme: 'light', config: undefined });
export const useShared = () => useContext(SharedContext);

/** Whether a media query matches, kept up to date as the window or the system setting changes. */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const media = matchMedia(query);
    const onChange = () => setMatches(media.matches);
    onChange();
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, [query]);
  return matches;
}

/** Phone width: the width at which the stylesheet hides `.hide-narrow`. */
export const NARROW_SCREEN = '(max-width: 600px)';
