import { evaluateRules } from '../../shared/alerts/evaluate.js';
import { productionDelivery } from '../../shared/alerts/notify.js';
import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { scheduledHandler } from '../../shared/lambda-stack.js';

/**
 * Fired every ALERT_EVAL_INTERVAL_SEC: evaluates every alert rule at the
 * tick's time and sends the notifications of the transitions (shared/alerts/evaluate.ts).
 */
export const handler = scheduledHandler(async (event) => {
  const config = getConfig();
  const result = await evaluateRules({
    config,
    now: Date.parse(event.time) || clock.now(),
    deliverOptions: productionDelivery(config),
  });
  return {
    rules: result.rules,
    transitions: result.transitions.length,
    deliveries: result.deliveries.length,
  };
});
