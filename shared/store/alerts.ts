/**
 * The table access of alerting (keys in keys.ts): rules, states, channels and
 * maintenance windows, each kind one small partition read whole by one Query
 * (bounded by MAX_RULES and friends); transitions and deliveries as monthly
 * logs read newest first with a limit, expiring after RETENTION_DAYS.
 *
 * A state is written with a condition on the version the evaluator read, so
 * of two evaluations racing (a retried schedule), one wins and only the winner
 * notifies: a transition is announced once.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type {
  AlertState,
  Delivery,
  MaintenanceWindow,
  Rule,
  StoredChannel,
  Transition,
} from '../alerts/model.js';
import { dynamoClient } from '../aws.js';
import { TABLE } from '../schema.js';
import {
  ALERT_PARTITIONS,
  alertChannelKey,
  alertChannelSecretsLockKey,
  alertLogKey,
  alertLogPartition,
  alertRuleKey,
  alertRulesSeededKey,
  alertStateKey,
  DAY_MS,
  maintenanceKey,
} from './keys.js';

/** Items of one small partition (at most `max`, pages followed), attributes other than the keys. */
async function readPartition<T>(tableName: string, pk: string, prefix: string, max: number): Promise<T[]> {
  const items: T[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoClient().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
        ExclusiveStartKey: startKey,
        Limit: max,
      }),
    );
    for (const item of page.Items ?? []) items.push(withoutKeys(item) as T);
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length < max);
  return items.slice(0, max);
}

function withoutKeys(item: Record<string, unknown>): Record<string, unknown> {
  const { [TABLE.partitionKey]: _pk, [TABLE.sortKey]: _sk, [TABLE.ttlAttribute]: _ttl, ...rest } = item;
  return rest;
}

const put = (tableName: string, key: { pk: string; sk: string }, value: object, extra = {}) =>
  dynamoClient().send(new PutCommand({ TableName: tableName, Item: { ...value, ...key }, ...extra }));

const remove = async (tableName: string, key: { pk: string; sk: string }): Promise<boolean> => {
  const answer = await dynamoClient().send(
    new DeleteCommand({ TableName: tableName, Key: key, ReturnValues: 'ALL_OLD' }),
  );
  return answer.Attributes !== undefined;
};

export const listRules = (tableName: string, max: number) =>
  readPartition<Rule>(tableName, ALERT_PARTITIONS.rules, 'R#', max);
export const saveRule = (tableName: string, rule: Rule) => put(tableName, alertRuleKey(rule.id), rule);
export const deleteRule = (tableName: string, id: string) => remove(tableName, alertRuleKey(id));

/**
 * Stores `defaults` once per table: the first caller to claim the marker
 * writes them. Returns whether this call seeded (a deleted default stays deleted).
 */
export async function seedRulesOnce(tableName: string, defaults: readonly Rule[]): Promise<boolean> {
  // A read first: every evaluation calls this, and a refused conditional write would cost a write unit each time.
  const marker = await dynamoClient().send(
    new GetCommand({ TableName: tableName, Key: alertRulesSeededKey() }),
  );
  if (marker.Item) return false;
  try {
    await put(
      tableName,
      alertRulesSeededKey(),
      { seededAt: Date.now() },
      {
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      },
    );
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
  for (const rule of defaults) await saveRule(tableName, rule);
  return true;
}

export const listStates = (tableName: string, max: number) =>
  readPartition<AlertState>(tableName, ALERT_PARTITIONS.states, 'S#', max);

/**
 * Writes a state if nobody else wrote it since `previousVersion` was read
 * (undefined: it did not exist). Returns false when another evaluation won.
 */
export async function writeState(
  tableName: string,
  state: AlertState,
  previousVersion: number | undefined,
): Promise<boolean> {
  try {
    await put(
      tableName,
      alertStateKey(state.ruleId, state.endpoint),
      state,
      previousVersion === undefined
        ? {
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
          }
        : {
            ConditionExpression: '#version = :version',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':version': previousVersion },
          },
    );
    return true;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

export const deleteState = (tableName: string, ruleId: string, endpoint: string) =>
  remove(tableName, alertStateKey(ruleId, endpoint));

export const listChannels = (tableName: string, max: number) =>
  readPartition<StoredChannel>(tableName, ALERT_PARTITIONS.channels, 'C#', max);
export const saveChannel = (tableName: string, channel: StoredChannel) =>
  put(tableName, alertChannelKey(channel.id), channel);

/** How long a holder may keep the channel secrets lease: past it, a crashed holder's lease is taken over. */
const SECRETS_LEASE_MS = 30_000;

/**
 * Runs `work` holding the channel secrets lease (a conditional write): the
 * secrets live in one document outside the table, read, changed and written
 * back whole, so two writers at once would lose one's change. Waits up to
 * `waitMs` for the lease (`sleep` between tries), then throws a 503-worthy error.
 */
export async function withChannelSecretsLease<T>(
  tableName: string,
  options: { now: () => number; sleep: (ms: number) => Promise<void>; waitMs?: number },
  work: () => Promise<T>,
): Promise<T> {
  const holder = randomUUID();
  const deadline = options.now() + (options.waitMs ?? 10_000);
  for (;;) {
    const now = options.now();
    try {
      await put(
        tableName,
        alertChannelSecretsLockKey(),
        { holder, expiresAt: now + SECRETS_LEASE_MS },
        {
          ConditionExpression: 'attribute_not_exists(#pk) OR #expires < :now',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#expires': 'expiresAt' },
          ExpressionAttributeValues: { ':now': now },
        },
      );
      break;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      if (options.now() >= deadline)
        throw new Error('the channel secrets are being changed by another request');
      await options.sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    // Only our own lease: one that expired and was taken over stays its new holder's.
    await dynamoClient()
      .send(
        new DeleteCommand({
          TableName: tableName,
          Key: alertChannelSecretsLockKey(),
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': holder },
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ConditionalCheckFailedException') throw error;
      });
  }
}
export const deleteChannel = (tableName: string, id: string) => remove(tableName, alertChannelKey(id));

export const listMaintenance = (tableName: string, max: number) =>
  readPartition<MaintenanceWindow>(tableName, ALERT_PARTITIONS.maintenance, 'W#', max);
export const saveMaintenance = (tableName: string, window: MaintenanceWindow) =>
  put(tableName, maintenanceKey(window.id), window);
export const deleteMaintenance = (tableName: string, id: string) => remove(tableName, maintenanceKey(id));

const expiresAt = (ts: number, retentionDays: number) => Math.floor((ts + retentionDays * DAY_MS) / 1000);

export const appendTransition = (tableName: string, transition: Transition, retentionDays: number) =>
  put(tableName, alertLogKey('AH', transition.ts, transition.id), {
    ...transition,
    [TABLE.ttlAttribute]: expiresAt(transition.ts, retentionDays),
  });

export const appendDelivery = (tableName: string, delivery: Delivery, retentionDays: number) =>
  put(tableName, alertLogKey('AD', delivery.ts, delivery.id), {
    ...delivery,
    [TABLE.ttlAttribute]: expiresAt(delivery.ts, retentionDays),
  });

/**
 * The newest `limit` entries of a log at or before `now`: this month's
 * partition, then last month's if it is not enough (at most two Query calls).
 */
export async function readLog<T>(
  tableName: string,
  kind: 'AH' | 'AD',
  now: number,
  limit: number,
): Promise<T[]> {
  const found: T[] = [];
  const nowSec = now / 1000;
  const thisMonth = new Date(now);
  const lastMonth = Date.UTC(thisMonth.getUTCFullYear(), thisMonth.getUTCMonth(), 0);
  for (const ts of [now, lastMonth]) {
    if (found.length >= limit) break;
    const page = await dynamoClient().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        ExpressionAttributeValues: { ':pk': alertLogPartition(kind, ts) },
        ScanIndexForward: false,
        Limit: limit - found.length,
      }),
    );
    for (const item of page.Items ?? []) {
      const expires = item[TABLE.ttlAttribute];
      if (typeof expires === 'number' && expires <= nowSec) continue;
      found.push(withoutKeys(item) as T);
    }
  }
  return found;
}
