import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ensureSchema } from '../../infra/local/store.js';
import { lognormal, seededRandom, traceEvents } from '../../test/fixtures.js';
import { dynamoClient } from '../aws.js';
import { parseConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { TABLE } from '../schema.js';
import { resolveFilters, resolveRange } from '../status/params.js';
import { computeStatus } from '../status/status.js';
import { computeTimeseries } from '../status/timeseries.js';
import { BulkLoad } from './bulk-load.js';
import { clearCompactCache, compactClosedPeriods } from './compaction.js';
import { recordEvents } from './events.js';
import { HOUR_MS, MINUTE_MS } from './keys.js';

/** Not on a minute edge, so windows end inside the open minute. */
const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };
const EVENTS = 2_000;
const SPAN_MS = 6 * HOUR_MS;
const BATCH = 100;

async function freshTable(): Promise<string> {
  const tableName = `bulk-${randomUUID().slice(0, 8)}`;
  await ensureSchema({
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT as string,
    s3Endpoint: process.env.S3_ENDPOINT as string,
    tableName,
    buckets: [],
  });
  return tableName;
}

/** Probe-like events over the 6 h before NOW, the last ones in the minutes not compacted yet: labels, failures, usage, phases. */
function sampleEvents(): TraceEvent[] {
  const random = seededRandom(12);
  const make = traceEvents('b', { upstream: 'real' });
  const endpoints = ['chat', 'embeddings', 'models'];
  return Array.from({ length: EVENTS }, (_, i) => {
    const endpoint = endpoints[i % 3] as string;
    const ok = random() > 0.05;
    const latencyMs = Math.round(lognormal(random, 200 + 100 * (i % 3), 0.5) * 1000) / 1000;
    return make({
      ts: NOW - SPAN_MS + Math.floor(((i + random()) / EVENTS) * SPAN_MS),
      endpoint,
      ...(endpoint === 'models'
        ? { model: undefined }
        : { model: random() < 0.5 ? 'gpt-4o-mini' : 'gpt-4.1-mini' }),
      region: random() < 0.5 ? 'us-west-1' : 'eu-west-1',
      ok,
      latencyMs,
      ...(ok ? { status: 200 } : { status: 503, errorType: 'server_error' as const }),
      ...(ok && endpoint === 'chat'
        ? { usage: { input: 10, output: i % 7, cached: 0, reasoning: 0 }, costUsd: 0.000001 * (i % 5) }
        : {}),
      timing: { ttfbMs: latencyMs * 0.9, transferMs: latencyMs * 0.1, reused: i % 4 !== 0 },
    });
  });
}

const batches = (events: TraceEvent[]) =>
  Array.from({ length: Math.ceil(events.length / BATCH) }, (_, i) =>
    events.slice(i * BATCH, (i + 1) * BATCH),
  );

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

/** Rollup items summed over their shards, by (kind, bucket, labels): what every read merges. */
function rollupsOverShards(items: Record<string, unknown>[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const item of items) {
    const pk = String(item[TABLE.partitionKey]);
    if (!/^R[MHE]#/.test(pk)) continue;
    const id = `${pk.replace(/#\d+$/, '')}|${item[TABLE.sortKey]}`;
    const sums = out.get(id) ?? new Map<string, number>();
    for (const [name, value] of Object.entries(item)) {
      // The last result is the last writer's in one, the latest event's in the other.
      if (typeof value !== 'number' || name.startsWith('last') || name === TABLE.ttlAttribute) continue;
      if (name === 'bucketStart') sums.set(name, value);
      else sums.set(name, (sums.get(name) ?? 0) + value);
    }
    out.set(id, sums);
  }
  return out;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Two answers alike: the same shape, integers exactly, other numbers to rounding; `meta` (read costs) and last results left out. */
function expectSameAnswer(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual)) expect(actual, where).toBe(expected);
    else expect(close(actual, expected), `${where}: ${actual} vs ${expected}`).toBe(true);
    return;
  }
  if (expected === null || typeof expected !== 'object') {
    expect(actual, where).toEqual(expected);
    return;
  }
  expect(typeof actual, where).toBe('object');
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual as object)]);
  for (const key of keys) {
    if (key === 'meta' || key === 'last') continue;
    expectSameAnswer(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${where}.${key}`,
    );
  }
}

describe('BulkLoad', () => {
  it('stores what recordEvents stores: the same raw events, the same rollups over shards, the same /status and /timeseries', async () => {
    const events = sampleEvents();
    const [real, bulk] = [await freshTable(), await freshTable()];
    const options = (tableName: string) => ({ tableName, ...RETENTION, now: NOW });

    // The write path, four writers at a time (so rollups land on several shards), and the bulk loader batch by batch.
    const queue = batches(events);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let batch = queue.shift(); batch; batch = queue.shift())
          await recordEvents(batch, options(real));
      }),
    );
    const loader = new BulkLoad(options(bulk));
    let token = 0;
    await Promise.all(batches(events).map((batch) => loader.add(batch, `writer-${token++}`)));
    // A repeated delivery is not stored twice.
    await loader.add(events.slice(0, 10), 'retry');
    const counts = await loader.finish();
    expect(counts.events).toBe(EVENTS);
    expect(counts.skipped).toBe(10);

    const [realItems, bulkItems] = [await scanAll(real), await scanAll(bulk)];
    const rawEvents = (items: Record<string, unknown>[]) =>
      items
        .filter((item) => String(item[TABLE.partitionKey]).startsWith('EV#'))
        .sort((a, b) => String(a[TABLE.sortKey]).localeCompare(String(b[TABLE.sortKey])));
    expect(rawEvents(bulkItems)).toEqual(rawEvents(realItems));
    expect(rawEvents(bulkItems)).toHaveLength(EVENTS);

    const [realRollups, bulkRollups] = [rollupsOverShards(realItems), rollupsOverShards(bulkItems)];
    expect([...bulkRollups.keys()].sort()).toEqual([...realRollups.keys()].sort());
    for (const [id, sums] of realRollups) {
      const other = bulkRollups.get(id) as Map<string, number>;
      expect([...other.keys()].sort(), id).toEqual([...sums.keys()].sort());
      for (const [name, value] of sums) {
        const mine = other.get(name) as number;
        if (Number.isInteger(value)) expect(mine, `${id} ${name}`).toBe(value);
        else expect(close(mine, value), `${id} ${name}: ${mine} vs ${value}`).toBe(true);
      }
    }

    // Compacted as the probe tick does, then read as the API does: live only, and through compact items.
    for (const tableName of [real, bulk]) {
      for (let run = 0; run < 20; run++) {
        const result = await compactClosedPeriods({
          ...options(tableName),
          sources: ['probe'],
          lookbackMs: 8 * HOUR_MS,
          maxMinutes: 8 * 60,
        });
        if ((result.minutes.probe ?? 0) === 0 && result.rebuilt === 0) break;
      }
    }
    for (const window of ['15', '360', '1440']) {
      for (const liveOnly of [true, false]) {
        const ask = (tableName: string) => {
          const config = parseConfig({ TABLE_NAME: tableName });
          clearCompactCache();
          return {
            config,
            range: resolveRange({ window }, config, NOW, 60),
            filters: resolveFilters({}, 'probe'),
            now: NOW,
            liveOnly,
          };
        };
        const where = `window=${window}${liveOnly ? ' live' : ''}`;
        const status = await computeStatus(ask(bulk));
        expectSameAnswer(status, await computeStatus(ask(real)), `/status ${where}`);
        if (window === '1440') expect(status.overall.total).toBe(EVENTS);
        expectSameAnswer(
          await computeTimeseries(ask(bulk)),
          await computeTimeseries(ask(real)),
          `/timeseries ${where}`,
        );
      }
    }
    // The last minutes, read live by endpoint, hold events too: the comparison covers the open tail.
    expect(events.filter((e) => e.ts >= NOW - 3 * MINUTE_MS).length).toBeGreaterThan(0);
  }, 180_000);
});
