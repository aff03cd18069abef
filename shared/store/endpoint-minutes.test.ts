import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { rewriteTail } from '../../bench/status-query/rewrite-tail.js';
import { ensureSchema } from '../../infra/local/store.js';
import { lognormal, seededRandom, traceEvents } from '../../test/fixtures.js';
import { dynamoClient } from '../aws.js';
import type { TraceEvent } from '../events/model.js';
import { TABLE } from '../schema.js';
import type { Aggregate } from '../stats/aggregate.js';
import { byEndpoint } from '../status/status.js';
import { BulkLoad } from './bulk-load.js';
import { clearCompactCache, compactClosedPeriods, compactHorizon } from './compaction.js';
import { recordEvents, rollupDeltas } from './events.js';
import {
  ENDPOINT_MINUTE_SPREAD,
  endpointMinuteKey,
  endpointMinutePartition,
  endpointMinuteShard,
  HOUR_MS,
  MINUTE_MS,
  ROLLUP_SHARDS,
  rollupShard,
} from './keys.js';
import { readSpan, rollupsFor } from './rollups.js';

/** Not on a minute edge: the window ends inside the open minute. */
const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };
const ENDPOINTS = ['chat', 'embeddings', 'models', 'responses', 'images'];
const MODELS = ['gpt-4o-mini', 'gpt-4.1-mini'];
const REGIONS = ['us-west-1', 'eu-west-1'];
/** Minutes written before NOW's: some compacted by the time of the read, the last two or three not. */
const MINUTES = 6;
const WINDOW = { from: NOW - 1440 * MINUTE_MS, to: NOW };

async function freshTable(): Promise<string> {
  const tableName = `epm-${randomUUID().slice(0, 8)}`;
  await ensureSchema({
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT as string,
    s3Endpoint: process.env.S3_ENDPOINT as string,
    tableName,
    buckets: [],
  });
  return tableName;
}

/** A writer token whose rollup shard is `shard`. */
function tokenOnShard(name: string, shard: number): string {
  for (let k = 0; ; k++) if (rollupShard(`${name}-${k}`) === shard) return `${name}-${k}`;
}

/** One request's events: every label set once in the minute starting at `minute`, with varied figures. */
function requestEvents(prefix: string, minute: number, random: () => number): TraceEvent[] {
  const make = traceEvents(prefix, { upstream: 'real' });
  const events: TraceEvent[] = [];
  for (const endpoint of ENDPOINTS)
    for (const model of MODELS)
      for (const region of REGIONS) {
        const ok = random() > 0.1;
        const latencyMs = Math.round(lognormal(random, 250, 0.6) * 1000) / 1000;
        events.push(
          make({
            ts: Math.min(NOW - 1, minute + Math.floor(random() * MINUTE_MS)),
            endpoint,
            model,
            region,
            ok,
            latencyMs,
            ...(ok ? { status: 200 } : { status: 503, errorType: 'server_error' as const }),
            usage: { input: Math.floor(random() * 100), output: 3, cached: 0, reasoning: 0 },
            timing: { ttfbMs: latencyMs / 2, reused: random() < 0.5 },
          }),
        );
      }
  return events;
}

async function compactAll(tableName: string) {
  for (let run = 0; run < 20; run++) {
    const result = await compactClosedPeriods({
      tableName,
      ...RETENTION,
      now: NOW,
      sources: ['probe'],
      // The hour the events lie in; the earlier hours of the window are empty (read live: no items).
      lookbackMs: HOUR_MS,
      maxMinutes: 2 * 60,
    });
    if ((result.minutes.probe ?? 0) === 0 && result.rebuilt === 0) return;
  }
  throw new Error('compaction did not settle');
}

async function scanAll(tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoClient().send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** What a figure comparison needs of an endpoint's aggregate: counts and buckets exactly, sums to rounding. */
function figures(aggregate: Aggregate | undefined) {
  if (!aggregate) return undefined;
  return {
    total: aggregate.total,
    ok: aggregate.ok,
    errors: aggregate.errors,
    statusClasses: aggregate.statusClasses,
    tokens: aggregate.tokens,
    reused: aggregate.reused,
    latency: aggregate.latency.buckets(),
    latencySum: Math.round(aggregate.latencySum * 1e6) / 1e6,
  };
}

/**
 * Reads the 24 h window by endpoint, cold, as /status does, and the same
 * window from the live label-set rollups alone; returns the first read's live
 * items and the minutes it read live.
 */
async function expectTailExact(tableName: string) {
  clearCompactCache();
  const reader = rollupsFor({ config: { tableName }, now: NOW });
  const items = await reader.read({ sources: ['probe'], ...WINDOW });
  const live = await rollupsFor({ config: { tableName }, now: NOW, liveOnly: true }).read({
    sources: ['probe'],
    ...WINDOW,
  });
  const [a, b] = [byEndpoint(items), byEndpoint(live)];
  expect([...a.keys()].sort()).toEqual([...ENDPOINTS].sort());
  for (const endpoint of ENDPOINTS)
    expect(figures(a.get(endpoint)), endpoint).toEqual(figures(b.get(endpoint)));
  const { end } = readSpan(WINDOW.from, WINDOW.to, NOW);
  const tailMinutes = (end - compactHorizon(NOW)) / MINUTE_MS;
  return { liveItems: reader.itemsRead - reader.compactItemsRead, tailMinutes };
}

describe('endpoint minutes (the minutes not compacted yet, read by endpoint)', () => {
  it('with every rollup shard written in each minute: exact, and at most ENDPOINT_MINUTE_SPREAD items per endpoint and minute', async () => {
    const tableName = await freshTable();
    const random = seededRandom(5);
    const bulk = new BulkLoad({ tableName, ...RETENTION, now: NOW });
    let total = 0;
    for (let m = MINUTES; m >= 0; m--) {
      const minute = Math.floor(NOW / MINUTE_MS) * MINUTE_MS - m * MINUTE_MS;
      for (let shard = 0; shard < ROLLUP_SHARDS; shard++) {
        const events = requestEvents(`b${m}-${shard}-`, minute, random);
        total += await bulk.add(events, tokenOnShard(`w${m}-${shard}`, shard));
      }
    }
    await bulk.finish();
    await compactAll(tableName);

    const stored = await scanAll(tableName);
    // The label-set minutes do lie on all 8 shards: the high-traffic case.
    const minuteShards = new Set(
      stored.map((item) => String(item[TABLE.partitionKey])).filter((pk) => pk.startsWith('RM#')),
    );
    expect(minuteShards.size).toBe(ROLLUP_SHARDS);
    // Each endpoint's minute is ENDPOINT_MINUTE_SPREAD items, on the keys endpointMinuteShard names.
    const endpointMinutes = stored.filter((item) => String(item[TABLE.partitionKey]).startsWith('RE#'));
    expect(endpointMinutes).toHaveLength(ENDPOINTS.length * (MINUTES + 1) * ENDPOINT_MINUTE_SPREAD);
    for (const item of endpointMinutes) {
      const shard = Number(String(item[TABLE.partitionKey]).split('#').at(-1));
      const writerShards = Array.from({ length: ROLLUP_SHARDS }, (_, s) => s).filter(
        (s) => endpointMinuteShard(String(item.endpoint), s) === shard,
      );
      expect(writerShards).toHaveLength(ROLLUP_SHARDS / ENDPOINT_MINUTE_SPREAD);
      expect(item.n).toBe((ROLLUP_SHARDS / ENDPOINT_MINUTE_SPREAD) * MODELS.length * REGIONS.length);
    }

    const { liveItems, tailMinutes } = await expectTailExact(tableName);
    expect(tailMinutes).toBeGreaterThanOrEqual(2);
    // Before: one item per endpoint, shard and minute (5 × 8 × 3 = 120 here).
    expect(liveItems).toBe(ENDPOINTS.length * ENDPOINT_MINUTE_SPREAD * tailMinutes);
    expect(total).toBe((MINUTES + 1) * ROLLUP_SHARDS * ENDPOINTS.length * MODELS.length * REGIONS.length);
  }, 120_000);

  it('through the write path (random writer tokens): exact, and within the same bound', async () => {
    const tableName = await freshTable();
    const random = seededRandom(9);
    for (let m = 3; m >= 0; m--) {
      const minute = Math.floor(NOW / MINUTE_MS) * MINUTE_MS - m * MINUTE_MS;
      await Promise.all(
        Array.from({ length: 6 }, (_, r) =>
          recordEvents(requestEvents(`r${m}-${r}-`, minute, random), { tableName, ...RETENTION, now: NOW }),
        ),
      );
    }
    await compactAll(tableName);
    const { liveItems, tailMinutes } = await expectTailExact(tableName);
    expect(liveItems).toBeGreaterThan(0);
    expect(liveItems).toBeLessThanOrEqual(ENDPOINTS.length * ENDPOINT_MINUTE_SPREAD * tailMinutes);
  }, 120_000);

  it('reads endpoint minutes written by writer shard (the layout before) exactly, and REWRITE_TAIL rewrites them exactly', async () => {
    const tableName = await freshTable();
    const random = seededRandom(3);
    const bulk = new BulkLoad({ tableName, ...RETENTION, now: NOW });
    /** What the code before wrote: each writer's endpoint minutes on its own shard. */
    const oldLayout: Record<string, unknown>[] = [];
    for (let m = 2; m >= 0; m--) {
      const minute = Math.floor(NOW / MINUTE_MS) * MINUTE_MS - m * MINUTE_MS;
      for (let shard = 0; shard < ROLLUP_SHARDS; shard += 3) {
        const events = requestEvents(`o${m}-${shard}-`, minute, random);
        await bulk.add(events, tokenOnShard(`o${m}-${shard}`, shard));
        for (const delta of rollupDeltas(
          events.map((event) => ({ event, resolutions: ['endpoint' as const] })),
          { tableName, ...RETENTION },
          shard,
        )) {
          oldLayout.push({
            [TABLE.partitionKey]: endpointMinutePartition('probe', minute, shard),
            [TABLE.sortKey]: delta.sk,
            ...delta.identity,
            ...delta.last,
            ...Object.fromEntries(delta.counters),
          });
        }
      }
    }
    await bulk.finish();
    for (const item of await scanAll(tableName)) {
      if (!String(item[TABLE.partitionKey]).startsWith('RE#')) continue;
      await dynamoClient().send(
        new DeleteCommand({
          TableName: tableName,
          Key: { [TABLE.partitionKey]: item[TABLE.partitionKey], [TABLE.sortKey]: item[TABLE.sortKey] },
        }),
      );
    }
    for (const Item of oldLayout) await dynamoClient().send(new PutCommand({ TableName: tableName, Item }));
    await compactAll(tableName);
    // Three writer shards (0, 3, 6) in each minute: 3 items per endpoint and minute.
    const before = await expectTailExact(tableName);
    expect(before.liveItems).toBe(ENDPOINTS.length * 3 * before.tailMinutes);
    // The bench's REWRITE_TAIL brings them to the current layout: the same figures, 2 items (shards 0 and 6 share one).
    const rewrite = await rewriteTail(tableName, NOW);
    expect(rewrite.removed).toBe(ENDPOINTS.length * 3 * before.tailMinutes);
    expect(rewrite.written).toBe(ENDPOINTS.length * ENDPOINT_MINUTE_SPREAD * before.tailMinutes);
    expect(rewrite.events).toBe(ENDPOINTS.length * 3 * before.tailMinutes * MODELS.length * REGIONS.length);
    const after = await expectTailExact(tableName);
    expect(after.liveItems).toBe(ENDPOINTS.length * ENDPOINT_MINUTE_SPREAD * after.tailMinutes);
  }, 120_000);

  it('puts an endpoint on the same key for the same writer shard, and on ENDPOINT_MINUTE_SPREAD keys in all', () => {
    for (const endpoint of ENDPOINTS) {
      const keys = new Set(
        Array.from(
          { length: ROLLUP_SHARDS },
          (_, s) => endpointMinuteKey(NOW, { source: 'probe', endpoint }, s).pk,
        ),
      );
      expect(keys.size).toBe(ENDPOINT_MINUTE_SPREAD);
      expect(endpointMinuteKey(NOW, { source: 'ingest', endpoint }, 5)).toEqual(
        endpointMinuteKey(NOW + 1000, { source: 'ingest', endpoint }, 5),
      );
    }
    // Endpoints spread over the shards by their hash.
    const shards = new Set(Array.from({ length: 64 }, (_, i) => endpointMinuteShard(`endpoint-${i}`, 0)));
    expect(shards.size).toBe(ROLLUP_SHARDS);
  });
});
