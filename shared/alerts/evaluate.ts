/**
 * One evaluation of every alert rule (every ALERT_EVAL_INTERVAL_SEC, by the
 * alerts_eval function): figures from the rollups (conditions.ts), a state
 * per rule and endpoint (ok → pending → firing → ok), every change of state
 * recorded, and a notification per transition and channel:
 *
 * - ok/pending → firing (after the rule's forMinutes): `firing`;
 * - firing → ok, once the condition has recovered: `resolved`, only if the
 *   firing was announced;
 * - still firing after reminderMinutes since the last notification: `reminder`.
 *
 * During a maintenance window covering the endpoint, transitions are recorded
 * with the window's id and nobody is notified; a rule still firing when the
 * window ends is announced then. The state is written before notifying, with
 * a condition on the version read (shared/store/alerts.ts): of two evaluations
 * of the same minute, only one notifies.
 */
import { randomUUID } from 'node:crypto';
import { clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Source } from '../events/model.js';
import { logger as defaultLogger } from '../logger.js';
import {
  appendDelivery,
  appendTransition,
  listChannels,
  listMaintenance,
  listRules,
  listStates,
  seedRulesOnce,
  writeState,
} from '../store/alerts.js';
import { MINUTE_MS } from '../store/keys.js';
import { type ReadCost, readCost, rollupsFor } from '../store/rollups.js';
import { resolveChannels } from './channel-secrets.js';
import { EvaluationFigures, evaluateCondition, type Verdict } from './conditions.js';
import { activeWindow } from './maintenance.js';
import {
  type AlertState,
  type AlertStatus,
  ANY_ENDPOINT,
  type Channel,
  type Delivery,
  MAX_CHANNELS,
  MAX_MAINTENANCE_WINDOWS,
  MAX_RULES,
  type NotificationEvent,
  type Rule,
  ruleInputSchema,
  type StoredChannel,
} from './model.js';
import { type DeliverOptions, deliver, type Notification } from './notify.js';

/** States read per evaluation: every rule on every endpoint, with room. */
export const MAX_STATES = 5000;

/** The rules a new installation starts with: a page on a run of failures, and the SLO's fast and slow burns. */
export function defaultRules(now: number): Rule[] {
  const rules = [
    {
      id: 'probe-failures',
      name: 'Probe failing: 3 of the last 5 runs',
      endpoint: ANY_ENDPOINT,
      condition: { kind: 'consecutive_failures' },
    },
    {
      id: 'probe-slo-burn',
      name: 'SLO burn rate (fast 14.4× over 1 h and 5 min, slow 6× over 6 h and 30 min)',
      endpoint: ANY_ENDPOINT,
      condition: { kind: 'burn_rate' },
    },
  ];
  return rules.map((rule) => ({ ...ruleInputSchema.parse(rule), id: rule.id, updatedAt: now }));
}

export interface EvaluationResult {
  evaluatedAt: number;
  rules: number;
  instances: number;
  transitions: { ruleId: string; endpoint: string; from: AlertStatus; to: AlertStatus }[];
  deliveries: Delivery[];
  /** What reading the rollups cost (bench/alerts.ts). */
  reads: ReadCost & {
    /** Small-partition Queries: rules, states, channels, maintenance windows. */
    tableQueries: number;
    /** GetItem calls: the default rules' marker. */
    tableGets: number;
  };
}

export interface EvaluateOptions {
  config: Config;
  now?: number;
  deliverOptions: Omit<DeliverOptions, 'now' | 'logger'> & Partial<Pick<DeliverOptions, 'now' | 'logger'>>;
}

interface Instance {
  rule: Rule;
  endpoint: string;
  state: AlertState | undefined;
  verdict: Verdict;
}

export async function evaluateRules(options: EvaluateOptions): Promise<EvaluationResult> {
  const { config } = options;
  const now = options.now ?? clock.now();
  const table = config.tableName;
  await seedRulesOnce(table, defaultRules(now));
  const [rules, states, channels, windows] = await Promise.all([
    listRules(table, MAX_RULES),
    listStates(table, MAX_STATES),
    listChannels(table, MAX_CHANNELS),
    listMaintenance(table, MAX_MAINTENANCE_WINDOWS),
  ]);
  const enabled = rules.filter((rule) => rule.enabled);
  const lookback = new Map<Source, number>();
  for (const rule of enabled) {
    if (rule.condition.kind !== 'consecutive_failures') continue;
    lookback.set(rule.source, Math.max(lookback.get(rule.source) ?? 0, rule.condition.lookbackMinutes));
  }
  const request = { config, now };
  const reader = rollupsFor(request);
  const figures = new EvaluationFigures(reader, now, lookback, config.sloExcludeMaintenance ? windows : []);
  const stateOf = new Map(states.map((s) => [`${s.ruleId}\u0000${s.endpoint}`, s]));

  const instances: Instance[] = [];
  for (const rule of enabled) {
    const endpoints = new Set<string>();
    if (rule.endpoint === ANY_ENDPOINT) {
      for (const endpoint of await figures.endpoints(rule.source, rule.condition)) endpoints.add(endpoint);
      // An endpoint gone quiet keeps its state until it recovers: it must not vanish while firing.
      for (const state of states)
        if (state.ruleId === rule.id && state.status !== 'ok') endpoints.add(state.endpoint);
    } else endpoints.add(rule.endpoint);
    for (const endpoint of [...endpoints].sort()) {
      const verdict = await evaluateCondition(
        rule.condition,
        { source: rule.source, endpoint },
        figures,
        config,
      );
      instances.push({ rule, endpoint, state: stateOf.get(`${rule.id}\u0000${endpoint}`), verdict });
    }
  }

  const logger = options.deliverOptions.logger ?? defaultLogger;
  const deliverOptions: DeliverOptions = { now: () => clock.now(), logger, ...options.deliverOptions };
  // The channels' secrets, read once and only when something is to be sent (most minutes send nothing).
  let withSecrets: Promise<{ channels: Map<string, Channel>; error?: string }> | undefined;
  const channelOf = async (id: string) => {
    withSecrets ??= resolveChannels(config, channels, now).then(
      (resolved) => ({ channels: resolved }),
      (error: Error) => {
        logger.warn('alert channel secrets could not be read', { error: error.message });
        return { channels: new Map<string, Channel>(), error: error.message.slice(0, 200) };
      },
    );
    const { channels: resolved, error } = await withSecrets;
    return { channel: resolved.get(id), error };
  };
  const result: EvaluationResult = {
    evaluatedAt: now,
    rules: enabled.length,
    instances: instances.length,
    transitions: [],
    deliveries: [],
    reads: { ...readCost(reader), tableQueries: 4, tableGets: 1 },
  };
  for (const instance of instances) {
    await step(instance, { config, now, channels, channelOf, windows, deliverOptions, result });
  }
  return result;
}

interface StepContext {
  config: Config;
  now: number;
  channels: StoredChannel[];
  /** A channel with its secrets; `error` when the secrets store could not be read. */
  channelOf: (id: string) => Promise<{ channel: Channel | undefined; error?: string | undefined }>;
  windows: Awaited<ReturnType<typeof listMaintenance>>;
  deliverOptions: DeliverOptions;
  result: EvaluationResult;
}

/** Moves one rule-endpoint pair to its next state, records and announces what changed. */
async function step(instance: Instance, context: StepContext): Promise<void> {
  const { rule, endpoint, state, verdict } = instance;
  const { now, config } = context;
  const previous: AlertStatus = state?.status ?? 'ok';
  let status: AlertStatus = previous;
  let since = state?.since ?? now;
  if (verdict.breaching) {
    if (previous === 'ok') since = now;
    if (previous !== 'firing') status = now - since >= rule.forMinutes * MINUTE_MS ? 'firing' : 'pending';
  } else if (previous === 'pending' || (previous === 'firing' && verdict.recovered)) {
    status = 'ok';
    since = now;
  }
  const window = activeWindow(context.windows, now, endpoint);
  let event: NotificationEvent | undefined;
  let notifiedAt = state?.notifiedAt;
  if (status === 'firing') {
    if (notifiedAt === undefined) event = window ? undefined : 'firing';
    else if (rule.reminderMinutes > 0 && now - notifiedAt >= rule.reminderMinutes * MINUTE_MS && !window)
      event = 'reminder';
    if (event) notifiedAt = now;
  } else {
    // Resolved: announced only if the firing was.
    if (previous === 'firing' && notifiedAt !== undefined && !window) event = 'resolved';
    notifiedAt = undefined;
  }

  // Written only when something happens: a quiet minute costs no write, however many rules there are.
  if (status === previous && event === undefined) return;
  const next: AlertState = {
    ruleId: rule.id,
    endpoint,
    status,
    since,
    notifiedAt,
    evaluatedAt: now,
    value: verdict.value,
    summary: verdict.summary,
    version: (state?.version ?? 0) + 1,
  };
  if (!(await writeState(config.tableName, next, state?.version))) return;
  if (status !== previous) {
    await appendTransition(
      config.tableName,
      {
        id: randomUUID(),
        ts: now,
        ruleId: rule.id,
        ruleName: rule.name,
        endpoint,
        from: previous,
        to: status,
        summary: verdict.summary,
        ...(window && (status === 'firing' || previous === 'firing') ? { silencedBy: window.id } : {}),
      },
      config.retentionDays,
    );
    context.result.transitions.push({ ruleId: rule.id, endpoint, from: previous, to: status });
  }
  if (!event) return;
  const notification: Notification = {
    event,
    at: now,
    rule: { id: rule.id, name: rule.name, kind: rule.condition.kind },
    source: rule.source,
    endpoint,
    status: status === 'firing' ? 'firing' : 'ok',
    since: event === 'resolved' ? (state?.since ?? now) : since,
    summary: verdict.summary,
    value: verdict.value,
    dashboardUrl: config.dashboardUrl ? `${config.dashboardUrl}/#alerts` : undefined,
  };
  // Channels in parallel: a slow receiver's retries do not delay the others.
  const deliveries = await Promise.all(
    rule.channels.map(async (channelId) => {
      const stored = context.channels.find((c) => c.id === channelId);
      if (!stored) {
        defaultLogger.warn('alert rule names a channel that does not exist', {
          rule: rule.id,
          channel: channelId,
        });
        return undefined;
      }
      const { channel, error } = await context.channelOf(channelId);
      const delivery = channel
        ? await deliver(channel, notification, context.deliverOptions)
        : secretsMissing(stored, notification, context.deliverOptions.now(), error);
      await appendDelivery(config.tableName, delivery, config.retentionDays);
      return delivery;
    }),
  );
  for (const delivery of deliveries) if (delivery) context.result.deliveries.push(delivery);
}

/** The failed delivery of a channel whose secrets could not be found: logged like any failure, never thrown. */
function secretsMissing(channel: StoredChannel, n: Notification, at: number, error?: string): Delivery {
  return {
    id: randomUUID(),
    ts: at,
    channelId: channel.id,
    channelType: channel.type,
    ruleId: n.rule.id,
    endpoint: n.endpoint,
    event: n.event,
    ok: false,
    attempts: [
      {
        at,
        error: error
          ? `the channel secrets could not be read: ${error}`
          : 'the channel has no secrets in the secrets store (recreate it: PUT /alerts/channels/{id})',
      },
    ],
  };
}
