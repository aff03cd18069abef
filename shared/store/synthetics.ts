/**
 * Table access for synthetic monitors: the monitors (one partition, bounded
 * by MAX_MONITORS), their runs (a partition per monitor, newest read first),
 * each monitor's last scheduled slot (claimed with a conditional write, so
 * overlapping dispatcher ticks never run a slot twice) and the per-minute
 * run budget. Keys come from keys.ts.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { TABLE } from '../schema.js';
import type { MonitorSpec } from '../synthetics/spec.js';
import {
  DAY_MS,
  MINUTE_MS,
  MONITORS_PARTITION,
  monitorKey,
  monitorRunKey,
  monitorRunsPartition,
  runBudgetKey,
} from './keys.js';

/** Most monitors one deployment keeps: listing and dispatching read them all in one Query. */
export const MAX_MONITORS = 50;
/** Most runs one page of `/synthetics/runs` returns. */
export const MAX_RUNS_PAGE = 100;

export interface MonitorRecord {
  id: string;
  spec: MonitorSpec;
  createdAt: number;
  updatedAt: number;
  /** Start of the last schedule slot a dispatcher claimed (epoch ms). */
  lastSlot?: number;
}

export interface StepResult {
  name: string;
  action: string;
  ok: boolean;
  /** The step was not run: the runner cannot do it (HTTP runner), or an earlier step failed. */
  skipped?: boolean;
  ms: number;
  error?: string;
}

export interface RunRecord {
  id: string;
  monitorId: string;
  monitorName: string;
  /** Start of the run, epoch ms. */
  ts: number;
  ok: boolean;
  statusText: string;
  runner: 'browser' | 'http';
  trigger: 'manual' | 'schedule';
  /** Attempts made: 2 when the first failed and was retried. */
  attempts: number;
  durationMs: number;
  steps: StepResult[];
  /** Artifact keys of the run's screenshots (JPEG), in order taken. */
  screenshots: string[];
  logs: string[];
  /** Time split of the counted attempt, ms. */
  timing: { startMs: number; stepsMs: number; uploadMs: number };
}

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;
const key = (k: { pk: string; sk: string }) => ({ [TABLE.partitionKey]: k.pk, [TABLE.sortKey]: k.sk });

function monitorOf(item: Record<string, unknown>): MonitorRecord {
  const { id, spec, createdAt, updatedAt, lastSlot } = item as unknown as MonitorRecord;
  return { id, spec, createdAt, updatedAt, ...(lastSlot === undefined ? {} : { lastSlot }) };
}

export async function listMonitors(tableName: string): Promise<MonitorRecord[]> {
  const answer = await dynamoClient().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      ExpressionAttributeValues: { ':pk': MONITORS_PARTITION },
      Limit: MAX_MONITORS,
    }),
  );
  return (answer.Items ?? []).map(monitorOf);
}

export async function getMonitor(tableName: string, id: string): Promise<MonitorRecord | undefined> {
  const answer = await dynamoClient().send(
    new GetCommand({ TableName: tableName, Key: key(monitorKey(id)), ConsistentRead: true }),
  );
  return answer.Item ? monitorOf(answer.Item) : undefined;
}

/** Stores a new monitor; false when the id exists. */
export async function createMonitor(tableName: string, monitor: MonitorRecord): Promise<boolean> {
  try {
    await dynamoClient().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...key(monitorKey(monitor.id)), ...monitor },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Replaces an existing monitor's spec; undefined when there is none. */
export async function updateMonitor(
  tableName: string,
  id: string,
  spec: MonitorSpec,
  now: number,
): Promise<MonitorRecord | undefined> {
  try {
    const answer = await dynamoClient().send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(monitorKey(id)),
        UpdateExpression: 'SET #spec = :spec, #updatedAt = :now',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#spec': 'spec', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':spec': spec, ':now': now },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return answer.Attributes ? monitorOf(answer.Attributes) : undefined;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/** Deletes a monitor (its runs expire by TTL); false when there was none. */
export async function deleteMonitor(tableName: string, id: string): Promise<boolean> {
  try {
    await dynamoClient().send(
      new DeleteCommand({
        TableName: tableName,
        Key: key(monitorKey(id)),
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Claims the schedule slot starting at `slotStart` for a monitor: true for
 * exactly one caller per slot, however many dispatchers overlap.
 */
export async function claimSlot(tableName: string, id: string, slotStart: number): Promise<boolean> {
  try {
    await dynamoClient().send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(monitorKey(id)),
        UpdateExpression: 'SET #slot = :slot',
        ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#slot) OR #slot < :slot)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#slot': 'lastSlot' },
        ExpressionAttributeValues: { ':slot': slotStart },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Takes one run from the minute's budget: false once `limit` runs started in
 * the minute holding `now` (the counter item expires a day later).
 */
export async function takeRunBudget(tableName: string, now: number, limit: number): Promise<boolean> {
  try {
    await dynamoClient().send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(runBudgetKey(now)),
        UpdateExpression: 'ADD #n :one SET #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
        ExpressionAttributeNames: { '#n': 'runs', '#ttl': TABLE.ttlAttribute },
        ExpressionAttributeValues: {
          ':one': 1,
          ':limit': limit,
          ':ttl': Math.ceil((now + DAY_MS + MINUTE_MS) / 1000),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

export async function putRun(tableName: string, run: RunRecord, retentionDays: number): Promise<void> {
  await dynamoClient().send(
    new PutCommand({
      TableName: tableName,
      Item: {
        ...key(monitorRunKey(run.monitorId, run.ts, run.id)),
        ...run,
        [TABLE.ttlAttribute]: Math.ceil((run.ts + retentionDays * DAY_MS) / 1000),
      },
    }),
  );
}

export interface RunsPage {
  items: RunRecord[];
  /** Sort key to continue below, when more runs may follow. */
  next?: string;
}

/**
 * The newest runs of the given monitors below the sort key `before`, merged
 * newest first: one Query of at most `limit` items per monitor (at most
 * MAX_MONITORS), expired runs left out.
 */
export async function queryRuns(
  tableName: string,
  monitorIds: readonly string[],
  options: { limit: number; before?: string; now: number },
): Promise<RunsPage> {
  const nowSec = Math.floor(options.now / 1000);
  const pages = await Promise.all(
    monitorIds.slice(0, MAX_MONITORS).map(async (monitorId) => {
      const answer = await dynamoClient().send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: options.before ? '#pk = :pk AND #sk < :before' : '#pk = :pk',
          ExpressionAttributeNames: {
            '#pk': TABLE.partitionKey,
            ...(options.before ? { '#sk': TABLE.sortKey } : {}),
          },
          ExpressionAttributeValues: {
            ':pk': monitorRunsPartition(monitorId),
            ...(options.before ? { ':before': options.before } : {}),
          },
          ScanIndexForward: false,
          Limit: options.limit,
        }),
      );
      return { items: answer.Items ?? [], more: answer.LastEvaluatedKey !== undefined };
    }),
  );
  const merged = pages
    .flatMap((p) => p.items)
    .filter(
      (item) =>
        !(typeof item[TABLE.ttlAttribute] === 'number' && (item[TABLE.ttlAttribute] as number) < nowSec),
    )
    .sort((a, b) => String(b[TABLE.sortKey]).localeCompare(String(a[TABLE.sortKey])));
  const items = merged.slice(0, options.limit);
  const more = merged.length > options.limit || pages.some((p) => p.more);
  const last = items.at(-1);
  const runs = items.map((item) => {
    const { [TABLE.partitionKey]: _pk, [TABLE.sortKey]: _sk, [TABLE.ttlAttribute]: _ttl, ...run } = item;
    return run as unknown as RunRecord;
  });
  return { items: runs, ...(more && last ? { next: String(last[TABLE.sortKey]) } : {}) };
}
