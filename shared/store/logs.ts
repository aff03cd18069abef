/**
 * The table items of logs (keys.ts): lines, their pending copies (waiting
 * for the indexer), the segment manifest, the index state, cached template
 * vectors and the log simulator's switch. Every read is a Query or a Get by
 * key, bounded by its caller's limit.
 */
import { createHash } from 'node:crypto';
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
  floorTo,
  HOUR_MS,
  LOG_PENDING_SHARDS,
  logIndexStateKey,
  logLineKey,
  logPendingKey,
  logPendingPartition,
  logPendingRange,
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

/** Bytes of lines (as JSON) per pending pack: under DynamoDB's 400 KB item limit with room to spare. */
const PACK_BYTES = 300_000;

/** The lines packed by hour, each pack at most PACK_BYTES. */
function packsOf(lines: readonly LogLine[]): { hour: number; lines: LogLine[] }[] {
  const byHour = new Map<number, LogLine[]>();
  for (const line of lines) {
    const hour = floorTo(line.ts, HOUR_MS);
    const list = byHour.get(hour) ?? [];
    if (list.length === 0) byHour.set(hour, list);
    list.push(line);
  }
  const packs: { hour: number; lines: LogLine[] }[] = [];
  for (const [hour, hourLines] of byHour) {
    let current: LogLine[] = [];
    let bytes = 0;
    for (const line of hourLines) {
      const size = Buffer.byteLength(JSON.stringify(line));
      if (current.length > 0 && bytes + size > PACK_BYTES) {
        packs.push({ hour, lines: current });
        current = [];
        bytes = 0;
      }
      current.push(line);
      bytes += size;
    }
    if (current.length > 0) packs.push({ hour, lines: current });
  }
  return packs;
}

/** A pack's id: from its lines' ids, so a retried batch writes the same packs. */
const packId = (lines: readonly LogLine[]) =>
  createHash('sha256')
    .update(lines.map((l) => l.id).join('\n'))
    .digest('hex')
    .slice(0, 20);

/**
 * Stores lines: first the pending packs (plain puts: a retry writes the same
 * items), then each line itself, only if absent. A line already stored
 * counts as a duplicate; its pending copy may be indexed again, which search
 * tolerates (hits are unique by line id).
 */
export async function putLogLines(
  tableName: string,
  lines: readonly LogLine[],
  retentionDays: number,
): Promise<LineWriteResult> {
  await batchWrite(
    tableName,
    packsOf(lines).map((pack) => {
      const maxTs = Math.max(...pack.lines.map((l) => l.ts));
      return {
        PutRequest: {
          Item: {
            ...logPendingKey(pack.hour, packId(pack.lines)),
            n: pack.lines.length,
            lines: JSON.stringify(pack.lines),
            expiresAt: ttlOf(maxTs, retentionDays),
          },
        },
      };
    }),
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

export interface PendingPack {
  key: { pk: string; sk: string };
  lines: LogLine[];
  expired: boolean;
}

/**
 * Pending packs of the hours holding `from` to `to`, newest (or oldest) hour
 * first, about `maxLines` lines in all (whole packs, at least one per shard
 * that has one); `truncated` says some shard had more. Packs hold whole
 * hours' lines: callers filter by time.
 */
export async function readPendingPacks(
  tableName: string,
  range: { from: number; to: number; now: number },
  maxLines: number,
  order: 'newest' | 'oldest' = 'newest',
): Promise<{ packs: PendingPack[]; truncated: boolean }> {
  const { low, high } = logPendingRange(range.from, range.to);
  const perShard = Math.max(1, Math.ceil(maxLines / LOG_PENDING_SHARDS));
  const packs: PendingPack[] = [];
  let truncated = false;
  await eachLimited(
    Array.from({ length: LOG_PENDING_SHARDS }, (_, s) => s),
    8,
    async (shard) => {
      let start: Record<string, unknown> | undefined;
      let lines = 0;
      do {
        const answer = await dynamoClient().send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
            ExpressionAttributeValues: { ':pk': logPendingPartition(shard), ':low': low, ':high': high },
            ScanIndexForward: order === 'oldest',
            // Packs are large: a few per page keeps each page bounded.
            Limit: 8,
            ExclusiveStartKey: start,
          }),
        );
        start = answer.LastEvaluatedKey;
        for (const item of answer.Items ?? []) {
          if (lines >= perShard) {
            truncated = true;
            start = undefined;
            break;
          }
          const packLines = JSON.parse(item.lines as string) as LogLine[];
          packs.push({
            key: { pk: item.pk as string, sk: item.sk as string },
            lines: packLines,
            expired: !notExpired(item, range.now),
          });
          lines += packLines.length;
        }
        if (start && lines >= perShard) {
          truncated = true;
          start = undefined;
        }
      } while (start);
    },
  );
  // Oldest or newest hour first across shards.
  packs.sort((a, b) => (order === 'oldest' ? (a.key.sk < b.key.sk ? -1 : 1) : a.key.sk < b.key.sk ? 1 : -1));
  return { packs, truncated };
}

/** How many lines wait for the indexer, counted up to `cap` per shard. */
export async function countPendingLines(
  tableName: string,
  cap: number,
): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  let capped = false;
  await eachLimited(
    Array.from({ length: LOG_PENDING_SHARDS }, (_, s) => s),
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
            ProjectionExpression: 'n',
            ExclusiveStartKey: start,
          }),
        );
        for (const item of answer.Items ?? []) shardCount += (item.n as number | undefined) ?? 0;
        start = answer.LastEvaluatedKey;
      } while (start && shardCount < cap);
      if (start) capped = true;
      count += shardCount;
    },
  );
  return { count, capped };
}

export async function deletePendingPacks(tableName: string, keys: readonly { pk: string; sk: string }[]) {
  await batchWrite(
    tableName,
    keys.map((key) => ({ DeleteRequest: { Key: key } })),
  );
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

// ------------------------------------------------------------ segment manifest

export interface SegmentEntry {
  indexKey: string;
  /** Start of the (first) hour the segment covers: a compacted segment covers several hours of one day. */
  hour: number;
  segmentId: string;
  /** Object key in the artifacts bucket. */
  objectKey: string;
  lines: number;
  bytes: number;
  minTs: number;
  maxTs: number;
  createdAt: number;
  /**
   * Segment ids this one holds the lines of (compaction, shared/logs/compaction.ts).
   * While a replaced entry is still in the manifest, readers skip it
   * (liveSegmentEntries): one Query sees either the old entries or the new
   * one, never both and never neither.
   */
  replaces?: string[];
}

/** The entries a reader uses: those no other entry of the list replaces. */
export function liveSegmentEntries(entries: readonly SegmentEntry[]): SegmentEntry[] {
  const replaced = new Set(entries.flatMap((e) => e.replaces ?? []));
  return entries.filter((e) => !replaced.has(e.segmentId));
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

/**
 * The manifest entries of the hours holding `from` to `to`, from the start of
 * the day of `from` (a compacted segment is keyed by its first hour, which
 * may lie before `from`), oldest first: one Query, paged, strongly
 * consistent. Replaced entries are included: readers keep liveSegmentEntries.
 */
export async function readSegmentEntries(
  tableName: string,
  indexKey: string,
  range: { from: number; to: number; now: number },
  limit: number,
): Promise<{ entries: SegmentEntry[]; truncated: boolean }> {
  const { low, high } = logSegmentRange(floorTo(range.from, DAY_MS), range.to);
  const items = await queryAll(
    {
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: { ':pk': logSegmentPartition(indexKey), ':low': low, ':high': high },
      ConsistentRead: true,
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
