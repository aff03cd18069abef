/**
 * The table items of logs (keys.ts): lines, their pending copies (waiting
 * for the indexer), the segment manifest, the index state, cached template
 * vectors and the log simulator's switch. Every read is a Query or a Get by
 * key, bounded by its caller's limit.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import type { LogLine } from '../logs/schema.js';
import { TABLE } from '../schema.js';
import {
  DAY_MS,
  LOG_SHARDS,
  logIdRange,
  logIndexStateKey,
  logLineKey,
  logPendingKey,
  logPendingPartition,
  logSegmentKey,
  logSegmentPartition,
  logSegmentRange,
  logSimulatorKey,
  logTemplateKey,
} from './keys.js';

const ttlOf = (ts: number, retentionDays: number) => Math.ceil((ts + retentionDays * DAY_MS) / 1000);
const notExpired = (item: Record<string, unknown>, now: number) =>
  typeof item[TABLE.ttlAttribute] !== 'number' || (item[TABLE.ttlAttribute] as number) * 1000 > now;
const KEY_NAMES = [TABLE.partitionKey, TABLE.sortKey, TABLE.ttlAttribute] as const;

function lineOf(item: Record<string, unknown>): LogLine {
  const line = { ...item };
  for (const name of KEY_NAMES) delete line[name];
  return line as unknown as LogLine;
}

/** Runs `work` over `items`, `limit` at a time; the first failure is thrown once all have settled. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** BatchWriteItem in chunks of 25, retrying what DynamoDB hands back unprocessed. */
async function batchWrite(tableName: string, requests: Record<string, unknown>[]): Promise<void> {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
  await eachLimited(chunks, 8, async (chunk) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error('BatchWriteItem: items left unprocessed after 8 retries');
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const answer = await dynamoClient().send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }),
      );
      pending = (answer.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
    }
  });
}

export interface LineWriteResult {
  stored: number;
  duplicates: number;
}

/**
 * Stores lines: first each line's pending copy (a plain put: a retry writes
 * the same item), then the line itself, only if absent. A line already
 * stored counts as a duplicate; its pending copy may be indexed again, which
 * search tolerates (hits are unique by line id).
 */
export async function putLogLines(
  tableName: string,
  lines: readonly LogLine[],
  retentionDays: number,
): Promise<LineWriteResult> {
  await batchWrite(
    tableName,
    lines.map((line) => ({
      PutRequest: { Item: { ...line, ...logPendingKey(line.id), expiresAt: ttlOf(line.ts, retentionDays) } },
    })),
  );
  let stored = 0;
  let duplicates = 0;
  await eachLimited(lines, 16, async (line) => {
    try {
      await dynamoClient().send(
        new PutCommand({
          TableName: tableName,
          Item: { ...line, ...logLineKey(line.ts, line.id), expiresAt: ttlOf(line.ts, retentionDays) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        }),
      );
      stored++;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      duplicates++;
    }
  });
  return { stored, duplicates };
}

/** One line by id, or undefined (also when expired). */
export async function getLogLine(tableName: string, id: string, ts: number, now: number) {
  const { Item } = await dynamoClient().send(
    new GetCommand({ TableName: tableName, Key: logLineKey(ts, id) }),
  );
  return Item && notExpired(Item, now) ? lineOf(Item) : undefined;
}

async function queryAll(input: QueryCommandInput, limit: number): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const answer = await dynamoClient().send(
      new QueryCommand({ ...input, Limit: limit - items.length, ExclusiveStartKey: start }),
    );
    items.push(...((answer.Items ?? []) as Record<string, unknown>[]));
    start = answer.LastEvaluatedKey;
  } while (start && items.length < limit);
  return items;
}

/**
 * Pending lines with `from <= ts <= to`, newest (or oldest) first, at most
 * `perShard` from each shard. `truncated` says a shard had more.
 */
export async function readPendingLines(
  tableName: string,
  range: { from: number; to: number; now: number },
  perShard: number,
  order: 'newest' | 'oldest' = 'newest',
): Promise<{ lines: LogLine[]; truncated: boolean; expired: LogLine[] }> {
  const { low, high } = logIdRange(range.from, range.to);
  const lines: LogLine[] = [];
  const expired: LogLine[] = [];
  let truncated = false;
  await eachLimited(
    Array.from({ length: LOG_SHARDS }, (_, s) => s),
    8,
    async (shard) => {
      const items = await queryAll(
        {
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':pk': logPendingPartition(shard), ':low': low, ':high': high },
          ScanIndexForward: order === 'oldest',
        },
        perShard + 1,
      );
      if (items.length > perShard) truncated = true;
      for (const item of items.slice(0, perShard)) {
        (notExpired(item, range.now) ? lines : expired).push(lineOf(item));
      }
    },
  );
  lines.sort((a, b) => (order === 'newest' ? b.ts - a.ts : a.ts - b.ts));
  return { lines, truncated, expired };
}

/** How many lines wait for the indexer, counted up to `cap` per shard. */
export async function countPendingLines(
  tableName: string,
  cap: number,
): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  let capped = false;
  await eachLimited(
    Array.from({ length: LOG_SHARDS }, (_, s) => s),
    8,
    async (shard) => {
      let start: Record<string, unknown> | undefined;
      let shardCount = 0;
      do {
        const answer = await dynamoClient().send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': logPendingPartition(shard) },
            Select: 'COUNT',
            ExclusiveStartKey: start,
          }),
        );
        shardCount += answer.Count ?? 0;
        start = answer.LastEvaluatedKey;
      } while (start && shardCount < cap);
      if (start) capped = true;
      count += shardCount;
    },
  );
  return { count, capped };
}

export async function deletePendingLines(tableName: string, ids: readonly string[]): Promise<void> {
  await batchWrite(
    tableName,
    ids.map((id) => ({ DeleteRequest: { Key: logPendingKey(id) } })),
  );
}

// ------------------------------------------------------------ segment manifest

export interface SegmentEntry {
  indexKey: string;
  /** Start of the hour the segment covers. */
  hour: number;
  segmentId: string;
  /** Object key in the artifacts bucket. */
  objectKey: string;
  lines: number;
  bytes: number;
  minTs: number;
  maxTs: number;
  createdAt: number;
}

export async function putSegmentEntry(tableName: string, entry: SegmentEntry, retentionDays: number) {
  await dynamoClient().send(
    new PutCommand({
      TableName: tableName,
      Item: {
        ...entry,
        ...logSegmentKey(entry.indexKey, entry.hour, entry.segmentId),
        // The object outlives its newest line's retention by a day; search filters on time anyway.
        expiresAt: ttlOf(entry.maxTs + DAY_MS, retentionDays),
      },
    }),
  );
}

/** The manifest entries of the hours holding `from` to `to` (one Query, paged), oldest first. */
export async function readSegmentEntries(
  tableName: string,
  indexKey: string,
  range: { from: number; to: number; now: number },
  limit: number,
): Promise<{ entries: SegmentEntry[]; truncated: boolean }> {
  const { low, high } = logSegmentRange(range.from, range.to);
  const items = await queryAll(
    {
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: { ':pk': logSegmentPartition(indexKey), ':low': low, ':high': high },
    },
    limit + 1,
  );
  const entries = items
    .slice(0, limit)
    .filter((item) => notExpired(item, range.now))
    .map((item) => lineOf(item) as unknown as SegmentEntry);
  return { entries, truncated: items.length > limit };
}

export async function deleteSegmentEntries(tableName: string, entries: readonly SegmentEntry[]) {
  await batchWrite(
    tableName,
    entries.map((e) => ({ DeleteRequest: { Key: logSegmentKey(e.indexKey, e.hour, e.segmentId) } })),
  );
}

// ------------------------------------------------------------ index state, templates, simulator

export interface LogIndexState {
  /** The index key (`<model>@<dims>`) of every vector in the index. */
  indexKey: string;
  model: string;
  dims: number;
  createdAt: number;
}

export async function readLogIndexState(tableName: string): Promise<LogIndexState | undefined> {
  const { Item } = await dynamoClient().send(
    new GetCommand({ TableName: tableName, Key: logIndexStateKey(), ConsistentRead: true }),
  );
  return Item ? (lineOf(Item) as unknown as LogIndexState) : undefined;
}

/** Creates the index state unless one exists; returns the state in force. */
export async function claimLogIndexState(tableName: string, state: LogIndexState): Promise<LogIndexState> {
  try {
    await dynamoClient().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...state, ...logIndexStateKey() },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }),
    );
    return state;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return (await readLogIndexState(tableName)) as LogIndexState;
  }
}

/** Cached template vectors by template hash (base64 of float32), for those found. */
export async function readTemplateVectors(
  tableName: string,
  indexKey: string,
  hashes: readonly string[],
): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  const chunks: string[][] = [];
  for (let i = 0; i < hashes.length; i += 100) chunks.push(hashes.slice(i, i + 100));
  await eachLimited(chunks, 4, async (chunk) => {
    let keys: Record<string, unknown>[] = chunk.map((hash) => logTemplateKey(indexKey, hash));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > 8) throw new Error('BatchGetItem: keys left unprocessed after 8 retries');
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const answer = await dynamoClient().send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ProjectionExpression: 'sk, v' } } }),
      );
      for (const item of answer.Responses?.[tableName] ?? []) {
        const bytes = Buffer.from(item.v as string, 'base64');
        found.set(item.sk as string, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      }
      keys = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
  });
  return found;
}

export async function putTemplateVectors(
  tableName: string,
  indexKey: string,
  vectors: ReadonlyMap<string, Float32Array>,
): Promise<void> {
  await batchWrite(
    tableName,
    [...vectors].map(([hash, vector]) => ({
      PutRequest: {
        Item: {
          ...logTemplateKey(indexKey, hash),
          v: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'),
        },
      },
    })),
  );
}

export interface LogSimulatorState {
  running: boolean;
  /** Who switched it last: `api`, `boot` (LOG_SIM_ENABLED). */
  changedBy: string;
  changedAt: number;
  /** The end of the period the simulator last wrote lines for. */
  writtenUpTo?: number;
  /** Lines written since it last started. */
  lines?: number;
}

export async function readLogSimulatorState(tableName: string): Promise<LogSimulatorState | undefined> {
  const { Item } = await dynamoClient().send(
    new GetCommand({ TableName: tableName, Key: logSimulatorKey(), ConsistentRead: true }),
  );
  return Item ? (lineOf(Item) as unknown as LogSimulatorState) : undefined;
}

export async function putLogSimulatorState(tableName: string, state: LogSimulatorState): Promise<void> {
  await dynamoClient().send(
    new PutCommand({ TableName: tableName, Item: { ...state, ...logSimulatorKey() } }),
  );
}

/**
 * Moves the simulator's progress from `previous` to `next`, only if no one
 * else moved it meanwhile (two ticks never write the same period twice).
 */
export async function advanceLogSimulator(
  tableName: string,
  previous: number | undefined,
  next: number,
  lines: number,
): Promise<boolean> {
  try {
    await dynamoClient().send(
      new UpdateCommand({
        TableName: tableName,
        Key: logSimulatorKey(),
        UpdateExpression: 'SET writtenUpTo = :next ADD #lines :lines',
        ConditionExpression:
          previous === undefined
            ? '#running = :true AND attribute_not_exists(writtenUpTo)'
            : '#running = :true AND writtenUpTo = :previous',
        ExpressionAttributeNames: { '#running': 'running', '#lines': 'lines' },
        ExpressionAttributeValues: {
          ':true': true,
          ':next': next,
          ':lines': lines,
          ...(previous === undefined ? {} : { ':previous': previous }),
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
