import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as incidentsHandler } from '../../functions/incidents/handler.js';
import { handler as statusHandler } from '../../functions/status/handler.js';
import { invokeHttp, ManualClock, useClock, useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { HttpProblem } from '../http/problem.js';
import { recordEvents } from './events.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, ROLLUP_SHARDS } from './keys.js';
import {
  bucketCount,
  MAX_ROLLUP_BUCKETS_PER_REQUEST,
  MAX_ROLLUP_ITEMS_PER_REQUEST,
  MAX_ROLLUP_QUERIES_PER_REQUEST,
  partitionCount,
  planSegments,
  ROLLUP_QUERY_CONCURRENCY,
  rollupsFor,
  useRollupLimits,
} from './rollups.js';

const HOUR = Date.UTC(2026, 10, 27, 12);
const at = (h: number, m: number) => HOUR + h * HOUR_MS + m * MINUTE_MS;

describe('planSegments', () => {
  it('reads a short range inside one hour from minute rollups', () => {
    expect(planSegments(at(0, 10), at(0, 40), at(0, 40))).toEqual([
      { resolution: 'minute', from: at(0, 10), to: at(0, 40) },
    ]);
  });

  it('reads the last day as a minute edge plus whole hours, the hour in progress included', () => {
    const now = at(24, 34) + 56_000;
    const from = at(0, 35);
    expect(planSegments(from, now, now)).toEqual([
      { resolution: 'minute', from: at(0, 35), to: at(1, 0) },
      { resolution: 'hour', from: at(1, 0), to: at(25, 0) },
    ]);
  });

  it('picks whichever plan reads fewer items', () => {
    const now = at(5, 34);
    // The last 60 minutes: 26 minutes + the hour in progress (27 items) beat 60 minutes.
    expect(planSegments(at(4, 35), now, now)).toEqual([
      { resolution: 'minute', from: at(4, 35), to: at(5, 0) },
      { resolution: 'hour', from: at(5, 0), to: at(6, 0) },
    ]);
    // Just after the hour, 3 minutes alone are cheaper than 57 minutes + an hour.
    expect(planSegments(at(5, 2), at(5, 4), at(5, 4))).toHaveLength(1);
  });

  it('keeps a past range exact at both ends', () => {
    const now = at(30, 0);
    expect(planSegments(at(0, 50), at(10, 10), now)).toEqual([
      { resolution: 'minute', from: at(0, 50), to: at(1, 0) },
      { resolution: 'hour', from: at(1, 0), to: at(10, 0) },
      { resolution: 'minute', from: at(10, 0), to: at(10, 10) },
    ]);
  });

  it('honours a forced resolution and an empty range', () => {
    expect(planSegments(at(0, 10), at(3, 10), at(3, 10), 'hour')).toEqual([
      { resolution: 'hour', from: at(0, 0), to: at(4, 0) },
    ]);
    expect(planSegments(at(0, 10), at(3, 10), at(3, 10), 'minute')).toEqual([
      { resolution: 'minute', from: at(0, 10), to: at(3, 10) },
    ]);
    expect(planSegments(at(1, 0), at(1, 0), at(2, 0))).toEqual([]);
  });
});

describe('pricing a plan', () => {
  it('counts partitions and buckets of any range without listing them', () => {
    const minutes = { resolution: 'minute' as const, from: at(0, 10), to: at(0, 10) + 3 * DAY_MS };
    // Each day (or month) is ROLLUP_SHARDS partitions.
    expect(partitionCount(minutes)).toBe(4 * ROLLUP_SHARDS);
    expect(bucketCount(minutes)).toBe(3 * 1440);
    const hours = {
      resolution: 'hour' as const,
      from: Date.UTC(2026, 0, 31, 23),
      to: Date.UTC(2026, 2, 1, 1),
    };
    expect(partitionCount(hours)).toBe(3 * ROLLUP_SHARDS);
    expect(bucketCount(hours)).toBe(1 + 28 * 24 + 1);
    // Every hour a Date can hold (273,790 years): priced in constant time.
    const huge = { resolution: 'hour' as const, from: 0, to: 8_640_000_000_000_000 };
    expect(partitionCount(huge)).toBe(3_285_489 * ROLLUP_SHARDS);
    expect(partitionCount({ ...huge, to: 0 })).toBe(0);
  });

  it('has one named ceiling per cost', () => {
    expect([
      MAX_ROLLUP_BUCKETS_PER_REQUEST,
      MAX_ROLLUP_QUERIES_PER_REQUEST,
      MAX_ROLLUP_ITEMS_PER_REQUEST,
    ]).toEqual([20_000, 200 * ROLLUP_SHARDS, 50_000]);
  });
});

describe('rollup read ceilings', () => {
  // 40 minutes of chat and models, one event a minute each: 80 minute rollup items.
  const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS + 45 * MINUTE_MS;
  let tableName = '';
  let restoreClock: () => void;
  beforeAll(async () => {
    ({ tableName } = await useFreshStore());
    restoreClock = useClock(new ManualClock(NOW));
    const events: TraceEvent[] = [];
    for (let m = 1; m <= 40; m++) {
      for (const endpoint of ['chat', 'models']) {
        events.push({
          id: `${endpoint}-${m}`,
          ts: NOW - m * MINUTE_MS,
          source: 'probe',
          endpoint,
          ok: true,
          latencyMs: 50,
        });
      }
    }
    await recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400 });
  });
  afterAll(() => restoreClock());

  const lastHour = {
    sources: ['probe'] as const,
    from: NOW - HOUR_MS,
    to: NOW,
    resolution: 'minute' as const,
  };
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  it('stops reading at the item ceiling, with a 400 naming it', async () => {
    const restore = useRollupLimits({ items: 10, itemsPerQuery: 4 });
    try {
      const reader = rollupsFor({ config: { tableName }, now: NOW });
      const error = await failure(reader.read(lastHour));
      expect(error).toBeInstanceOf(HttpProblem);
      expect(error).toMatchObject({
        status: 400,
        field: 'range',
        limit: { name: 'rollupItemsPerRequest', max: 10 },
        message: expect.stringMatching(/^range: reads more than 10 rollup items; at most 10 per request/),
      });
      expect(reader.itemsRead).toBeGreaterThan(10);
      expect(reader.itemsRead).toBeLessThanOrEqual(10 + ROLLUP_QUERY_CONCURRENCY * 4);
    } finally {
      restore();
    }
  });

  it('stops at the Query-call ceiling when pages run past it', async () => {
    // The plan fits: one Query per shard for the minutes before the compaction horizon (nothing is
    // compacted here) and one per shard for those after it, read at once; the pages of the shard holding the items do not.
    const max = 2 * ROLLUP_SHARDS + 2;
    const restore = useRollupLimits({ queries: max, itemsPerQuery: 5 });
    try {
      const reader = rollupsFor({ config: { tableName }, now: NOW });
      const error = await failure(reader.read(lastHour));
      expect(error).toMatchObject({ status: 400, limit: { name: 'rollupQueriesPerRequest', max } });
      expect(reader.queries).toBe(max);
    } finally {
      restore();
    }
  });

  it('refuses a plan over the partition or bucket ceiling before any Query, and every later read of the request', async () => {
    // One source's day is ROLLUP_SHARDS partitions: two sources are twice that.
    let restore = useRollupLimits({ queries: ROLLUP_SHARDS });
    try {
      const twoSources = rollupsFor({ config: { tableName }, now: NOW });
      const error = await failure(twoSources.read({ ...lastHour, sources: ['probe', 'ingest'] }));
      expect(error).toMatchObject({
        message: expect.stringMatching(
          new RegExp(
            `^range: would read ${2 * ROLLUP_SHARDS} rollup partitions; at most ${ROLLUP_SHARDS} per request`,
          ),
        ),
        limit: { name: 'rollupQueriesPerRequest', max: ROLLUP_SHARDS, requested: 2 * ROLLUP_SHARDS },
      });
      expect(twoSources.queries).toBe(0);
      expect(await failure(twoSources.read({ ...lastHour, from: NOW - 5 * MINUTE_MS }))).toBe(error);
      expect(twoSources.queries).toBe(0);
    } finally {
      restore();
    }
    restore = useRollupLimits({ buckets: 100 });
    try {
      const long = rollupsFor({ config: { tableName }, now: NOW });
      expect(await failure(long.read({ ...lastHour, from: NOW - 3 * HOUR_MS }))).toMatchObject({
        limit: { name: 'rollupBucketsPerRequest', max: 100, requested: 180 },
      });
      expect(long.queries).toBe(0);
      // Within both, the same request reads normally.
      const fine = rollupsFor({ config: { tableName }, now: NOW });
      expect(await fine.read({ ...lastHour, from: NOW - 30 * MINUTE_MS })).toHaveLength(60);
    } finally {
      restore();
    }
  });

  it.each([
    ['/status', statusHandler],
    ['/incidents', incidentsHandler],
  ] as const)('%s answers 400 problem+json naming the item ceiling it ran into', async (path, handler) => {
    const restore = useRollupLimits({ items: 10, itemsPerQuery: 4 });
    try {
      const res = await invokeHttp(handler, { path, query: { window: 30 } });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json()).toMatchObject({
        field: 'range',
        detail: expect.stringContaining('at most 10 per request; narrow from/to (or window)'),
        limit: { name: 'rollupItemsPerRequest', max: 10 },
      });
    } finally {
      restore();
    }
    expect((await invokeHttp(handler, { path, query: { window: 30 } })).statusCode).toBe(200);
  });
});
