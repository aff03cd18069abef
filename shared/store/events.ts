/**
 * Writing trace events: the raw event (with its TTL) and the per-minute and
 * per-hour rollups it adds to. A probe costs exactly three write requests:
 * one conditional Put and two UpdateItem ADDs.
 *
 * The Put is conditional on the event not existing yet, and only events that
 * were new add to the rollups: a retried delivery (same id and time) neither
 * duplicates the raw event nor counts twice. ADD is atomic, so concurrent
 * writers never lose counts.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import type { TraceEvent } from '../events/model.js';
import { TABLE } from '../schema.js';
import { bucketAttribute, bucketIndex } from '../stats/histogram.js';
import { DAY_MS, eventKey, floorTo, HOUR_MS, MINUTE_MS, type Resolution, rollupKey } from './keys.js';

export interface RecordOptions {
  tableName: string;
  retentionDays: number;
  rollupRetentionDays: number;
}

export interface RecordResult {
  /** Events written for the first time. */
  stored: number;
  /** Events that already existed (retried deliveries): not counted again. */
  duplicates: number;
  /** DynamoDB write requests made. */
  writeRequests: number;
}

/**
 * The names of the counters in a rollup item. Every counter is a plain
 * top-level number, because ADD cannot create a path inside a missing map.
 */
export const ROLLUP_COUNTERS = {
  count: 'n',
  ok: 'ok',
  /** Events recorded against the simulator. */
  simulated: 'sim',
  latencySum: 'lat',
  errorPrefix: 'e_',
  statusPrefix: 's_',
  inputTokens: 'tin',
  outputTokens: 'tout',
  cachedTokens: 'tcached',
  reasoningTokens: 'treason',
  /** Events that reported usage. */
  usageCount: 'tn',
  bytes: 'bytes',
  cost: 'cost',
  /** Events with a cost estimate (the rest had no price). */
  costCount: 'costn',
  /** Phase `x` adds `p_x` (sum of ms) and `p_x_n` (events that had it). */
  phasePrefix: 'p_',
  reused: 'reused',
} as const;

export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer', 'ttft'] as const;
export type Phase = (typeof PHASES)[number];

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none'] as const;

export function statusClass(status: number | undefined): (typeof STATUS_CLASSES)[number] {
  if (status === undefined || status < 200 || status >= 600) return 'none';
  return `${Math.floor(status / 100)}xx` as '2xx' | '3xx' | '4xx' | '5xx';
}

interface RollupDelta {
  pk: string;
  sk: string;
  identity: Record<string, string | number | boolean>;
  counters: Map<string, number>;
}

/** The latest result in a rollup, for "last result" without reading raw events. */
export const ROLLUP_LAST = {
  ts: 'lastTs',
  ok: 'lastOk',
  status: 'lastStatus',
  errorType: 'lastError',
} as const;

/** Adds one event's contribution to a delta's counters. */
function addEvent(counters: Map<string, number>, event: TraceEvent): void {
  const add = (name: string, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    counters.set(name, (counters.get(name) ?? 0) + value);
  };
  const c = ROLLUP_COUNTERS;
  add(c.count, 1);
  if (event.ok) add(c.ok, 1);
  if (event.upstream === 'simulated') add(c.simulated, 1);
  add(c.latencySum, event.latencyMs);
  if (event.errorType) add(`${c.errorPrefix}${event.errorType}`, 1);
  add(`${c.statusPrefix}${statusClass(event.status)}`, 1);
  if (event.usage) {
    add(c.usageCount, 1);
    add(c.inputTokens, event.usage.input);
    add(c.outputTokens, event.usage.output);
    add(c.cachedTokens, event.usage.cached);
    add(c.reasoningTokens, event.usage.reasoning);
  }
  add(c.bytes, event.responseBytes);
  if (event.costUsd !== undefined) {
    add(c.cost, event.costUsd);
    add(c.costCount, 1);
  }
  const timing = event.timing ?? {};
  const phaseValues: Record<Phase, number | undefined> = {
    dns: timing.dnsMs,
    connect: timing.connectMs,
    tls: timing.tlsMs,
    ttfb: timing.ttfbMs,
    transfer: timing.transferMs,
    ttft: timing.ttftMs,
  };
  for (const phase of PHASES) {
    const value = phaseValues[phase];
    if (value === undefined) continue;
    add(`${c.phasePrefix}${phase}`, value);
    add(`${c.phasePrefix}${phase}_n`, 1);
  }
  if (timing.reused) add(c.reused, 1);
  add(bucketAttribute(bucketIndex(event.latencyMs)), 1);
}

/**
 * The rollup updates a set of events makes, aggregated per (rollup key): a
 * batch of events costs one update per distinct key, not one per event.
 */
export function rollupDeltas(events: readonly TraceEvent[], options: RecordOptions): RollupDelta[] {
  const deltas = new Map<string, RollupDelta>();
  const resolutions: [Resolution, number, number][] = [
    ['minute', MINUTE_MS, options.retentionDays * DAY_MS],
    ['hour', HOUR_MS, options.rollupRetentionDays * DAY_MS],
  ];
  for (const event of events) {
    for (const [resolution, step, keepMs] of resolutions) {
      const labels = {
        source: event.source,
        endpoint: event.endpoint,
        model: event.model,
        region: event.region,
      };
      const key = rollupKey(resolution, event.ts, labels);
      const id = `${key.pk}|${key.sk}`;
      let delta = deltas.get(id);
      if (!delta) {
        const bucketStart = floorTo(event.ts, step);
        delta = {
          ...key,
          identity: {
            resolution,
            bucketStart,
            source: event.source,
            endpoint: event.endpoint,
            model: event.model ?? '',
            region: event.region ?? '',
            [TABLE.ttlAttribute]: Math.ceil((bucketStart + step + keepMs) / 1000),
          },
          counters: new Map(),
        };
        deltas.set(id, delta);
      }
      addEvent(delta.counters, event);
      // Within one batch the latest event wins; across concurrent writers the last write does.
      if (event.ts >= ((delta.identity[ROLLUP_LAST.ts] as number | undefined) ?? Number.NEGATIVE_INFINITY)) {
        delta.identity[ROLLUP_LAST.ts] = event.ts;
        delta.identity[ROLLUP_LAST.ok] = event.ok;
        delta.identity[ROLLUP_LAST.status] = event.status ?? 0;
        delta.identity[ROLLUP_LAST.errorType] = event.errorType ?? '';
      }
    }
  }
  return [...deltas.values()];
}

async function applyDelta(tableName: string, delta: RollupDelta): Promise<void> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const adds: string[] = [];
  let i = 0;
  for (const [name, value] of Object.entries(delta.identity)) {
    names[`#k${i}`] = name;
    values[`:k${i}`] = value;
    sets.push(`#k${i} = :k${i}`);
    i++;
  }
  for (const [name, value] of delta.counters) {
    names[`#c${i}`] = name;
    values[`:c${i}`] = value;
    adds.push(`#c${i} :c${i}`);
    i++;
  }
  await dynamoClient().send(
    new UpdateCommand({
      TableName: tableName,
      Key: { [TABLE.partitionKey]: delta.pk, [TABLE.sortKey]: delta.sk },
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
  );
}

/** The stored item of an event. */
export function eventItem(event: TraceEvent, retentionDays: number): Record<string, unknown> {
  const key = eventKey(event.ts, event.id);
  return {
    [TABLE.partitionKey]: key.pk,
    [TABLE.sortKey]: key.sk,
    ...event,
    [TABLE.ttlAttribute]: Math.ceil((event.ts + retentionDays * DAY_MS) / 1000),
  };
}

/** Stores events and their rollups. Safe to call again with the same events. */
export async function recordEvents(
  events: readonly TraceEvent[],
  options: RecordOptions,
): Promise<RecordResult> {
  let writeRequests = 0;
  const fresh: TraceEvent[] = [];
  await Promise.all(
    events.map(async (event) => {
      writeRequests++;
      try {
        await dynamoClient().send(
          new PutCommand({
            TableName: options.tableName,
            Item: eventItem(event, options.retentionDays),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
          }),
        );
        fresh.push(event);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }),
  );
  const deltas = rollupDeltas(fresh, options);
  await Promise.all(deltas.map((delta) => applyDelta(options.tableName, delta)));
  writeRequests += deltas.length;
  return { stored: fresh.length, duplicates: events.length - fresh.length, writeRequests };
}

const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;
const MAX_ATTEMPTS = 8;

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));

/** Which of these event keys already exist (BatchGet, projection of the key only). */
async function existingKeys(tableName: string, keys: { pk: string; sk: string }[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
    let request: Record<string, unknown>[] | undefined = keys
      .slice(i, i + BATCH_GET_MAX)
      .map((k) => ({ [TABLE.partitionKey]: k.pk, [TABLE.sortKey]: k.sk }));
    for (let attempt = 0; request?.length; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await pause(attempt);
      const answer = await dynamoClient().send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: request,
              ProjectionExpression: '#pk, #sk',
              ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
            },
          },
        }),
      );
      for (const item of answer.Responses?.[tableName] ?? []) {
        found.add(`${item[TABLE.partitionKey]}|${item[TABLE.sortKey]}`);
      }
      request = answer.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return found;
}

/** BatchWrite puts in chunks of 25, retrying unprocessed items with backoff. Returns the requests made. */
async function batchPut(tableName: string, items: Record<string, unknown>[]): Promise<number> {
  let requests = 0;
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
    let pending: { PutRequest: { Item: Record<string, unknown> } }[] | undefined = items
      .slice(i, i + BATCH_WRITE_MAX)
      .map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending?.length; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchWriteItem kept returning unprocessed items');
      if (attempt > 0) await pause(attempt);
      requests++;
      const answer = await dynamoClient().send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = answer.UnprocessedItems?.[tableName] as typeof pending;
    }
  }
  return requests;
}

/**
 * Stores a batch of events cheaply (ingestion): 25 events per BatchWrite, and
 * one rollup update per distinct (rollup key, minute/hour) for the whole batch.
 *
 * An event whose key (time and id) is already stored is written again (the
 * raw event is overwritten, never duplicated) but does not add to the rollups
 * a second time. Two deliveries of the same new event racing each other could
 * both count; the request-level idempotency of ingestion covers retries.
 */
export async function recordEventBatch(
  events: readonly TraceEvent[],
  options: RecordOptions,
): Promise<RecordResult> {
  // Within one batch the last copy of a key wins.
  const byKey = new Map<string, TraceEvent>();
  for (const event of events) {
    const { pk, sk } = eventKey(event.ts, event.id);
    byKey.set(`${pk}|${sk}`, event);
  }
  const keys = [...byKey.keys()].map((k) => {
    const [pk, sk] = k.split('|') as [string, string];
    return { pk, sk };
  });
  const existing = await existingKeys(options.tableName, keys);
  const unique = [...byKey.values()];
  let writeRequests = await batchPut(
    options.tableName,
    unique.map((event) => eventItem(event, options.retentionDays)),
  );
  const fresh = [...byKey.entries()].filter(([key]) => !existing.has(key)).map(([, event]) => event);
  const deltas = rollupDeltas(fresh, options);
  // A handful at a time: a large batch can touch many keys.
  for (let i = 0; i < deltas.length; i += 16) {
    await Promise.all(deltas.slice(i, i + 16).map((delta) => applyDelta(options.tableName, delta)));
  }
  writeRequests += deltas.length;
  return { stored: fresh.length, duplicates: events.length - fresh.length, writeRequests };
}
