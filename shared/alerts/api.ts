/**
 * What the alert routes do: rules, channels and maintenance windows read and
 * written, and the overview the dashboard shows (rules with their states,
 * transitions, deliveries, maintenance). Input is validated here (400 naming
 * the field); channel secrets go in and never come out (publicChannel).
 */
import { randomUUID } from 'node:crypto';
import { clock } from '../clock.js';
import type { Config } from '../config.js';
import { badRequest, HttpProblem, validate } from '../http/problem.js';
import { checkEgressUrl, egressPolicy } from '../net/egress.js';
import { maintenanceDefinition } from '../status/slo-maintenance.js';
import {
  deleteMaintenance,
  deleteRule,
  deleteState,
  listChannels,
  listMaintenance,
  listRules,
  listStates,
  readLog,
  saveMaintenance,
  saveRule,
  seedRulesOnce,
} from '../store/alerts.js';
import { DAY_MS } from '../store/keys.js';
import { writeChannel } from './channel-secrets.js';
import { defaultRules, MAX_STATES } from './evaluate.js';
import { occurrences } from './maintenance.js';
import {
  type AlertState,
  type Channel,
  channelInputSchema,
  type Delivery,
  MAX_CHANNELS,
  MAX_MAINTENANCE_WINDOWS,
  MAX_RULES,
  type MaintenanceWindow,
  maintenanceInputSchema,
  publicChannel,
  type Rule,
  ruleInputSchema,
  type Transition,
} from './model.js';

/** Entries of the transition and delivery logs in the overview. */
export const LOG_LIMIT = 100;

const notFound = (what: string, id: string) =>
  new HttpProblem(404, 'Not Found', `No ${what} "${id}"`, { field: 'id' });

/** The rules (the default set stored on first use). */
export async function rules(config: Config, now: number): Promise<Rule[]> {
  await seedRulesOnce(config.tableName, defaultRules(now));
  return listRules(config.tableName, MAX_RULES);
}

export async function rule(config: Config, now: number, id: string): Promise<Rule> {
  const found = (await rules(config, now)).find((r) => r.id === id);
  if (!found) throw notFound('rule', id);
  return found;
}

/** Creates a rule (POST, `id` absent) or replaces one (PUT, `id` from the path). */
export async function putRule(config: Config, now: number, body: unknown, pathId?: string): Promise<Rule> {
  const input = validate(ruleInputSchema, body, 'body');
  if (pathId !== undefined && input.id !== undefined && input.id !== pathId)
    throw badRequest('body.id', `differs from the path's id "${pathId}"`);
  const existing = await rules(config, now);
  const id = pathId ?? input.id ?? `r-${randomUUID().slice(0, 8)}`;
  if (pathId !== undefined && !existing.some((r) => r.id === id)) throw notFound('rule', id);
  if (pathId === undefined && existing.some((r) => r.id === id))
    throw new HttpProblem(409, 'Conflict', `A rule "${id}" exists: PUT /alerts/rules/${id} replaces it`, {
      field: 'body.id',
    });
  if (pathId === undefined && existing.length >= MAX_RULES)
    throw badRequest('body', `at most ${MAX_RULES} rules; delete one first`);
  const channels = await listChannels(config.tableName, MAX_CHANNELS);
  input.channels.forEach((channel, i) => {
    if (!channels.some((c) => c.id === channel))
      throw badRequest(`body.channels.${i}`, `no channel "${channel}"`);
  });
  const stored: Rule = { ...input, id, updatedAt: now };
  await saveRule(config.tableName, stored);
  return stored;
}

/** Deletes a rule and its states (its transitions and deliveries stay in the logs until they expire). */
export async function removeRule(config: Config, id: string): Promise<void> {
  if (!(await deleteRule(config.tableName, id))) throw notFound('rule', id);
  const states = await listStates(config.tableName, MAX_STATES);
  for (const state of states)
    if (state.ruleId === id) await deleteState(config.tableName, id, state.endpoint);
}

export async function channels(config: Config) {
  return (await listChannels(config.tableName, MAX_CHANNELS)).map(publicChannel);
}

/**
 * Stores a channel (POST, `id` absent; PUT replaces one, `id` from the path):
 * its secrets in the channel secrets store, a reference in the table
 * (channel-secrets.ts). A destination the egress guard refuses now is refused
 * here (and again at each delivery).
 */
export async function putChannel(config: Config, now: number, body: unknown, pathId?: string) {
  const input = validate(channelInputSchema, body, 'body');
  if (pathId !== undefined && input.id !== undefined && input.id !== pathId)
    throw badRequest('body.id', `differs from the path's id "${pathId}"`);
  if (input.type !== 'email') {
    const decision = await checkEgressUrl(input.url, egressPolicy(config));
    if (!decision.ok)
      throw badRequest('body.url', `refused by the egress guard (${decision.reason}): ${decision.message}`);
  }
  const existing = await listChannels(config.tableName, MAX_CHANNELS);
  const id = pathId ?? input.id ?? `c-${randomUUID().slice(0, 8)}`;
  if (pathId !== undefined && !existing.some((c) => c.id === id)) throw notFound('channel', id);
  if (pathId === undefined && existing.length >= MAX_CHANNELS)
    throw badRequest('body', `at most ${MAX_CHANNELS} channels`);
  if (pathId === undefined && existing.some((c) => c.id === id))
    throw new HttpProblem(
      409,
      'Conflict',
      `A channel "${id}" exists: PUT /alerts/channels/${id} replaces it`,
      {
        field: 'body.id',
      },
    );
  const channel: Channel = { ...input, id, updatedAt: now };
  await writeChannel(config, { put: channel }, { now: () => clock.now() });
  return publicChannel(
    (await listChannels(config.tableName, MAX_CHANNELS)).find((c) => c.id === id) ?? channel,
  );
}

export async function removeChannel(config: Config, id: string): Promise<void> {
  if (!(await writeChannel(config, { remove: id }, { now: () => clock.now() })))
    throw notFound('channel', id);
}

export async function maintenanceWindows(config: Config, range: { from: number; to: number }) {
  const windows = await listMaintenance(config.tableName, MAX_MAINTENANCE_WINDOWS);
  return {
    windows,
    /** Every occurrence overlapping the range, oldest first: what charts and the incidents list draw. */
    occurrences: windows
      .flatMap((w) => occurrences(w, range.from, range.to))
      .sort((a, b) => a.start - b.start),
    range,
  };
}

export async function createMaintenance(
  config: Config,
  now: number,
  body: unknown,
): Promise<MaintenanceWindow> {
  const input = validate(maintenanceInputSchema, body, 'body');
  const existing = await listMaintenance(config.tableName, MAX_MAINTENANCE_WINDOWS);
  if (existing.length >= MAX_MAINTENANCE_WINDOWS)
    throw badRequest('body', `at most ${MAX_MAINTENANCE_WINDOWS} maintenance windows`);
  const id = input.id ?? `m-${randomUUID().slice(0, 8)}`;
  if (existing.some((w) => w.id === id))
    throw new HttpProblem(409, 'Conflict', `A window "${id}" exists: delete it first`, { field: 'body.id' });
  const window: MaintenanceWindow = { ...input, id, updatedAt: now };
  await saveMaintenance(config.tableName, window);
  return window;
}

export async function removeMaintenance(config: Config, id: string): Promise<void> {
  if (!(await deleteMaintenance(config.tableName, id))) throw notFound('maintenance window', id);
}

/** The dashboard's Alerts view: every rule with its states, the latest transitions and deliveries, today's maintenance. */
export async function overview(config: Config, now: number) {
  const [all, states, transitions, deliveries, maintenance] = await Promise.all([
    rules(config, now),
    listStates(config.tableName, MAX_STATES),
    readLog<Transition>(config.tableName, 'AH', now, LOG_LIMIT),
    readLog<Delivery>(config.tableName, 'AD', now, LOG_LIMIT),
    maintenanceWindows(config, { from: now - DAY_MS, to: now + DAY_MS }),
  ]);
  const statesOf = (id: string) => states.filter((s) => s.ruleId === id && s.status !== 'ok');
  const firing: (AlertState & { ruleName: string })[] = [];
  for (const r of all)
    for (const s of statesOf(r.id)) if (s.status === 'firing') firing.push({ ...s, ruleName: r.name });
  return {
    generatedAt: now,
    firing,
    rules: all.map((r) => ({ ...r, states: statesOf(r.id) })),
    transitions,
    deliveries,
    maintenance,
    definitions: {
      states:
        'ok: the condition does not hold; pending: it holds for less than the rule’s forMinutes; firing: notified (once), then reminded every reminderMinutes until it resolves.',
      consecutive_failures:
        'fires when at least `failures` of the newest `outOf` runs failed (as a share when the newest minutes hold more runs) and the newest run failed; resolves after `recoverAfter` successful runs in a row.',
      burn_rate:
        '(1 − SLI) / (1 − objective) over each window, as in /status; fires when both windows of the fast pair, or both of the slow pair, are at or over their factor.',
      latency: 'fires when the p95 over the last windowMinutes stays over thresholdMs for forMinutes.',
      maintenance: `during a window covering the endpoint, transitions are recorded and nobody is notified. Burn rates: ${maintenanceDefinition(config.sloExcludeMaintenance)}`,
    },
  };
}
