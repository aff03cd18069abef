/**
 * The alerts firing now: the banner at the top of the Status tab and of the
 * Alerts tab, and the one request both read. Its own module so that the Status
 * tab's first paint does not load the Alerts view.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiUrl, useApi } from '../api';
import { dateTime } from '../format';
import { useShared } from '../state';
import { displayText } from '../text';
import type { AlertsAnswer } from '../types';

/** One request for both the tab and the Status banner (the API caches it briefly). */
export function useAlerts() {
  const { tick } = useShared();
  return useApi<AlertsAnswer>(apiUrl('/alerts'), tick);
}

/** The firing alerts whose overlay the visitor hid (this tab's session only). */
const HIDDEN_STORAGE = 'openai-status.firing-hidden';

/**
 * While the overlay is shown, the page ends that much lower (its height as the body's bottom padding),
 * so that it never hides the end of the page; padding below everything moves nothing on screen.
 */
function useRoomBelow(ref: { current: HTMLElement | null }, shown: boolean): void {
  useEffect(() => {
    const el = ref.current;
    if (!shown || !el) return;
    const reserve = () => document.body.style.setProperty('padding-bottom', `${el.offsetHeight}px`);
    reserve();
    const observer = typeof ResizeObserver === 'undefined' ? undefined : new ResizeObserver(reserve);
    observer?.observe(el);
    return () => {
      observer?.disconnect();
      document.body.style.removeProperty('padding-bottom');
    };
  }, [ref, shown]);
}

/**
 * The alerts firing now; nothing at all when none is (or the answer is not in yet).
 * `overlay` (the Status tab, whose figures are on screen before /alerts answers):
 * the banner is laid over the bottom of the view instead of pushing the page down
 * when it arrives.
 */
export function FiringAlerts(props: { alerts: AlertsAnswer | undefined; overlay?: boolean }) {
  const firing = props.alerts?.firing ?? [];
  const ref = useRef<HTMLElement>(null);
  // The overlay covers part of the view, so it can be hidden; only for the alerts firing now:
  // one that starts firing later (or fires again) brings it back.
  const firingKey = firing.map((state) => `${state.ruleId}|${state.endpoint}|${state.since}`).join(',');
  const [hiddenKey, setHiddenKey] = useState(() => sessionStorage.getItem(HIDDEN_STORAGE));
  const shown = firing.length > 0 && !(props.overlay && hiddenKey === firingKey);
  useRoomBelow(ref, props.overlay === true && shown);
  if (!shown) return null;
  const hide = () => {
    sessionStorage.setItem(HIDDEN_STORAGE, firingKey);
    setHiddenKey(firingKey);
    // The banner had focus (its button): the page's main region takes it, not the body.
    document.getElementById('main')?.focus();
  };
  return (
    <section
      ref={ref}
      class={props.overlay ? 'firing-alerts firing-overlay' : 'firing-alerts'}
      role="alert"
      aria-label="Firing alerts"
      data-testid="firing-alerts"
    >
      <h2 class="firing-title">
        {firing.length} alert{firing.length > 1 ? 's' : ''} firing
      </h2>
      <ul>
        {firing.map((state) => (
          <li key={`${state.ruleId}-${state.endpoint}`}>
            <span class="pill pill-down">
              <span class="dot" />
              firing
            </span>{' '}
            <strong>{displayText(state.ruleName)}</strong> · {displayText(state.endpoint)} · since{' '}
            {dateTime(state.since)}
            <span class="muted small"> — {displayText(state.summary)}</span>
          </li>
        ))}
      </ul>
      <a class="link" href="?tab=alerts">
        All alerts
      </a>
      {props.overlay && (
        <button type="button" class="btn btn-small firing-hide" onClick={hide} data-testid="firing-hide">
          Hide until another alert fires
        </button>
      )}
    </section>
  );
}
