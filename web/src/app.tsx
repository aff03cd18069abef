/**
 * The dashboard shell: header (simulator badge, refresh, theme), the tabs as an
 * ARIA tablist, the range and filter toolbar, and the active tab's panel.
 */
import type { JSX, TargetedKeyboardEvent } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, apiUrl, useApi } from './api';
import { ErrorState, Skeleton } from './components';
import { ago, pct } from './format';
import {
  baseQuery,
  RANGES,
  SharedContext,
  StoreContext,
  TABS,
  type TabId,
  useMediaQuery,
  useUrlState,
} from './state';
import { StatusTab } from './tabs/status';
import { displayText } from './text';
import type { PublicConfig, StatusAnswer } from './types';

const REFRESH_MS = 30_000;

type TabView = () => JSX.Element | null;
type LazyTab = Exclude<TabId, 'status'>;

/**
 * Every tab but Status is its own chunk, fetched the first time it is opened:
 * the status tab's first paint loads only the shell and the status view.
 */
const TAB_MODULES: Record<LazyTab, () => Promise<TabView>> = {
  slo: () => import('./tabs/slo').then((m) => m.SloTab),
  compare: () => import('./tabs/compare').then((m) => m.CompareTab),
  heatmaps: () => import('./tabs/heatmaps').then((m) => m.HeatmapsTab),
  cost: () => import('./tabs/cost').then((m) => m.CostTab),
  traces: () => import('./tabs/traces').then((m) => m.TracesTab),
  logs: () => import('./tabs/logs').then((m) => m.LogsTab),
  chat: () => import('./tabs/chat').then((m) => m.ChatTab),
  synthetics: () => import('./tabs/synthetics').then((m) => m.SyntheticsTab),
  alerts: () => import('./tabs/alerts').then((m) => m.AlertsTab),
};
const loadedTabs = new Map<LazyTab, TabView>();

/** The view of a lazy tab once its chunk is in (undefined until then), or the error that stopped it. */
function useTabView(tab: TabId): { view: TabView | undefined; error: Error | undefined; retry: () => void } {
  const [, setLoaded] = useState(0);
  const [error, setError] = useState<Error | undefined>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (tab === 'status' || loadedTabs.has(tab)) return;
    let live = true;
    setError(undefined);
    TAB_MODULES[tab]().then(
      (view) => {
        loadedTabs.set(tab, view);
        if (live) setLoaded((n) => n + 1);
      },
      (failure: unknown) => live && setError(failure instanceof Error ? failure : new Error(String(failure))),
    );
    return () => {
      live = false;
    };
  }, [tab, attempt]);
  return {
    view: tab === 'status' ? undefined : loadedTabs.get(tab),
    error,
    retry: () => setAttempt((n) => n + 1),
  };
}

function LazyTabPanel(props: { tab: LazyTab }) {
  const { view: View, error, retry } = useTabView(props.tab);
  if (View) return <View />;
  if (error) {
    return (
      <ErrorState
        error={new ApiError(0, 'The view did not load', error.message)}
        retry={retry}
        what="this view"
      />
    );
  }
  return <Skeleton lines={6} label="Loading this view…" />;
}

type ThemeChoice = 'auto' | 'light' | 'dark';

/** The theme to apply before the first render (no flash of the wrong theme). */
export function initialTheme(): 'light' | 'dark' {
  const choice = storedTheme();
  if (choice !== 'auto') return choice;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function storedTheme(): ThemeChoice {
  try {
    const value = localStorage.getItem('theme');
    return value === 'light' || value === 'dark' ? value : 'auto';
  } catch {
    return 'auto';
  }
}

/** The theme choice (stored) and the theme in effect (for chart colours). */
function useTheme(): [ThemeChoice, 'light' | 'dark', (t: ThemeChoice) => void] {
  const [choice, setChoice] = useState<ThemeChoice>(storedTheme);
  const systemDark = useMediaQuery('(prefers-color-scheme: dark)');
  const effective = choice === 'auto' ? (systemDark ? 'dark' : 'light') : choice;
  useEffect(() => {
    document.documentElement.dataset.theme = effective;
    try {
      if (choice === 'auto') localStorage.removeItem('theme');
      else localStorage.setItem('theme', choice);
    } catch {
      // Storage may be off (private mode); the choice just is not remembered.
    }
  }, [choice, effective]);
  return [choice, effective, setChoice];
}

/** A counter bumped every 30 s while the page is visible (and right away when it becomes visible again). */
function useRefreshTick(enabled: boolean): [number, number] {
  const [tick, setTick] = useState(0);
  const last = useRef(Date.now());
  const [lastAt, setLastAt] = useState(Date.now());
  useEffect(() => {
    if (!enabled) return;
    const bump = () => {
      last.current = Date.now();
      setLastAt(last.current);
      setTick((n) => n + 1);
    };
    const timer = setInterval(() => {
      if (!document.hidden) bump();
    }, REFRESH_MS);
    const onVisible = () => {
      if (!document.hidden && Date.now() - last.current >= REFRESH_MS) bump();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [enabled]);
  return [tick, lastAt];
}

/** Re-renders every few seconds, for "updated 10s ago". */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function Updated(props: { auto: boolean; lastAt: number }) {
  const now = useNow(5000);
  return (
    <span class="updated hide-narrow">
      {props.auto ? `Updated ${ago(props.lastAt, now)}` : 'Auto-refresh off'}
    </span>
  );
}

function Tabs(props: { active: TabId; onSelect: (tab: TabId) => void }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKeyDown = (event: TargetedKeyboardEvent<HTMLDivElement>) => {
    const index = TABS.findIndex((t) => t.id === props.active);
    let next = -1;
    if (event.key === 'ArrowRight') next = (index + 1) % TABS.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + TABS.length) % TABS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = TABS.length - 1;
    if (next < 0) return;
    event.preventDefault();
    const tab = TABS[next];
    if (!tab) return;
    props.onSelect(tab.id);
    refs.current[next]?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label="Dashboard views" onKeyDown={onKeyDown}>
      {TABS.map((tab, i) => (
        <button
          key={tab.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${tab.id}`}
          class="tab"
          aria-selected={tab.id === props.active}
          aria-controls={tab.id === props.active ? `panel-${tab.id}` : undefined}
          tabIndex={tab.id === props.active ? 0 : -1}
          onClick={() => props.onSelect(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}

function SimulatedBadge(props: { config: PublicConfig | undefined; status: StatusAnswer | undefined }) {
  const share = props.status?.simulatedShare;
  if (share === null || share === undefined) {
    if (props.config?.upstream !== 'simulated') return null;
    return (
      <span
        class="badge badge-sim"
        data-testid="simulated-badge"
        title="No OPENAI_API_KEY: probes call the simulator"
      >
        Simulator upstream
      </span>
    );
  }
  if (share <= 0) return null;
  return (
    <span
      class="badge badge-sim"
      data-testid="simulated-badge"
      title="These figures come from the built-in OpenAI simulator, not the real API"
    >
      {share >= 0.999 ? 'Simulated data' : `Partly simulated (${pct(share, 0)})`}
    </span>
  );
}

function ThemeToggle(props: { choice: ThemeChoice; onChange: (t: ThemeChoice) => void }) {
  const order: ThemeChoice[] = ['auto', 'light', 'dark'];
  const next = order[(order.indexOf(props.choice) + 1) % order.length] as ThemeChoice;
  const icon = props.choice === 'dark' ? '☾' : props.choice === 'light' ? '☀' : '◐';
  return (
    <button
      type="button"
      class="btn btn-ghost theme-toggle"
      onClick={() => props.onChange(next)}
      aria-label={`Colour theme: ${props.choice}. Switch to ${next}`}
      title={`Theme: ${props.choice}`}
    >
      <span aria-hidden="true">{icon}</span>
      <span class="hide-narrow">
        {props.choice === 'auto' ? 'Auto' : props.choice === 'light' ? 'Light' : 'Dark'}
      </span>
    </button>
  );
}

export function App() {
  const store = useUrlState();
  const { params, set } = store;
  const [themeChoice, theme, setTheme] = useTheme();
  const [auto, setAuto] = useState(true);
  const [tick, lastAt] = useRefreshTick(auto);
  const config = useApi<PublicConfig>('/config', 0, true);
  const status = useApi<StatusAnswer>(apiUrl('/status', { ...baseQuery(params), endpoint: undefined }), tick);
  const tab = params.tab as TabId;

  const retentionDays = config.data?.retention.eventsDays ?? 30;
  const ranges = RANGES.filter((r) => r.minutes <= retentionDays * 1440);
  const endpoints = useMemo(() => {
    const names = new Set<string>(config.data?.probes.endpoints ?? []);
    for (const e of status.data?.endpoints ?? []) names.add(e.endpoint);
    if (params.endpoint) names.add(params.endpoint);
    return [...names].sort();
  }, [config.data, status.data, params.endpoint]);

  const shared = useMemo(() => ({ tick, theme, config: config.data }), [tick, theme, config.data]);

  const panel =
    tab === 'status' ? <StatusTab status={status} /> : <LazyTabPanel key={tab} tab={tab as LazyTab} />;

  return (
    <StoreContext.Provider value={store}>
      <SharedContext.Provider value={shared}>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="top">
          <div class="top-row">
            <div class="brand">
              <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="2" />
                <path d="M6 13h3l2-5 3 9 2-4h2" fill="none" stroke="currentColor" stroke-width="2" />
              </svg>
              <h1>OpenAI API status</h1>
              <span class="badge-slot">
                <SimulatedBadge config={config.data} status={status.data} />
              </span>
            </div>
            <div class="top-actions">
              <Updated auto={auto} lastAt={lastAt} />
              <label class="switch" title="Refresh every 30 s while this tab is visible">
                <input
                  type="checkbox"
                  checked={auto}
                  onChange={(e) => setAuto((e.currentTarget as HTMLInputElement).checked)}
                />
                <span>Auto-refresh</span>
              </label>
              <ThemeToggle choice={themeChoice} onChange={setTheme} />
            </div>
          </div>
          <Tabs active={tab} onSelect={(t) => set({ tab: t })} />
        </header>
        <section class="toolbar" aria-label="Time range and filters">
          <fieldset class="segmented" aria-label="Time range">
            <legend class="visually-hidden">Time range</legend>
            {ranges.map((r) => (
              <button
                key={r.id}
                type="button"
                class="seg"
                aria-pressed={params.range === r.id}
                data-range={r.id}
                onClick={() => set({ range: r.id })}
              >
                {r.label}
              </button>
            ))}
          </fieldset>
          <label class="field">
            <span>Endpoint</span>
            <select
              value={params.endpoint ?? ''}
              onChange={(e) => set({ endpoint: (e.currentTarget as HTMLSelectElement).value })}
              data-testid="endpoint-filter"
            >
              <option value="">All endpoints</option>
              {endpoints.map((name) => (
                <option key={name} value={name}>
                  {displayText(name)}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Source</span>
            <select
              value={params.source ?? 'probe'}
              onChange={(e) => set({ source: (e.currentTarget as HTMLSelectElement).value })}
            >
              <option value="probe">Probes</option>
              <option value="ingest">Ingested traces</option>
              <option value="synthetic">Synthetic monitors</option>
              <option value="all">All sources</option>
            </select>
          </label>
        </section>
        <main id="main" class="content" tabIndex={-1}>
          <div
            id={`panel-${tab}`}
            role="tabpanel"
            aria-labelledby={`tab-${tab}`}
            data-tab={tab}
            class="tabpanel"
          >
            {panel}
          </div>
        </main>
        <footer class="foot">
          <span>
            openai-status {config.data ? `v${config.data.version}` : ''} · figures from{' '}
            <a href="/status">/status</a>, <a href="/timeseries">/timeseries</a> and{' '}
            <a href="/traces">/traces</a>
          </span>
        </footer>
      </SharedContext.Provider>
    </StoreContext.Provider>
  );
}
