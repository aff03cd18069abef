/**
 * The dashboard shell: header (simulator badge, refresh, theme), the tabs as an
 * ARIA tablist, the range and filter toolbar, and the active tab's panel.
 */
import type { JSX, TargetedKeyboardEvent } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiUrl, useApi } from './api';
import { ago, pct } from './format';
import { baseQuery, RANGES, SharedContext, StoreContext, TABS, type TabId, useUrlState } from './state';
import { AlertsTab } from './tabs/alerts';
import { ChatTab } from './tabs/chat';
import { CompareTab } from './tabs/compare';
import { CostTab } from './tabs/cost';
import { HeatmapsTab } from './tabs/heatmaps';
import { LogsTab } from './tabs/logs';
import { SloTab } from './tabs/slo';
import { StatusTab } from './tabs/status';
import { SyntheticsTab } from './tabs/synthetics';
import { TracesTab } from './tabs/traces';
import { displayText } from './text';
import type { PublicConfig, StatusAnswer } from './types';

const REFRESH_MS = 30_000;

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
  const media = useMemo(() => matchMedia('(prefers-color-scheme: dark)'), []);
  const [systemDark, setSystemDark] = useState(media.matches);
  useEffect(() => {
    const onChange = () => setSystemDark(media.matches);
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, [media]);
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

  let panel: JSX.Element;
  switch (tab) {
    case 'slo':
      panel = <SloTab />;
      break;
    case 'compare':
      panel = <CompareTab />;
      break;
    case 'heatmaps':
      panel = <HeatmapsTab />;
      break;
    case 'cost':
      panel = <CostTab />;
      break;
    case 'traces':
      panel = <TracesTab />;
      break;
    case 'chat':
      panel = <ChatTab />;
      break;
    case 'logs':
      panel = <LogsTab />;
      break;
    case 'synthetics':
      panel = <SyntheticsTab />;
      break;
    case 'alerts':
      panel = <AlertsTab />;
      break;
    default:
      panel = <StatusTab status={status} />;
  }

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
              <SimulatedBadge config={config.data} status={status.data} />
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
        <div class="toolbar">
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
        </div>
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
