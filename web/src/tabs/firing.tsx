/**
 * The alerts firing now: the banner at the top of the Status tab and of the
 * Alerts tab, and the one request both read. Its own module so that the Status
 * tab's first paint does not load the Alerts view.
 */
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

/** The alerts firing now; nothing at all when none is (or the answer is not in yet). */
export function FiringAlerts(props: { alerts: AlertsAnswer | undefined }) {
  const firing = props.alerts?.firing ?? [];
  if (firing.length === 0) return null;
  return (
    <section class="firing-alerts" role="alert" aria-label="Firing alerts" data-testid="firing-alerts">
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
    </section>
  );
}
