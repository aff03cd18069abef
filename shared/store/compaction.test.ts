import { randomUUID } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import * as fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { ensureSchema } from '../../infra/local/store.js';
import { traceStoreCalls } from '../../test/faults.js';
import { traceEvents } from '../../test/fixtures.js';
import { dynamoClient } from '../aws.js';
import { parseConfig } from '../config.js';
import { ERROR_TYPES, type TraceEvent } from '../events/model.js';
import { TABLE } from '../schema.js';
import { type Aggregate, addRollupItem, emptyAggregate } from '../stats/aggregate.js';
import { packGroups, unpackGroups } from '../stats/packed.js';
import { resolveFilters, resolveRange } from '../status/params.js';
import { byEndpoint, computeStatus } from '../status/status.js';
import {
  type CompactOptions,
  cellsOf,
  clearCompactCache,
  compactClosedPeriods,
  compactHorizon,
  PeriodCache,
} from './compaction.js';
import { recordEvents, rollupDeltas } from './events.js';
import { PHASES, STATUS_CLASSES } from './item-layout.js';
import { COMPACT_LEVELS, compactKey, compactorKey, DAY_MS, HOUR_MS, MINUTE_MS } from './keys.js';
import { type RollupItem, type RollupReadOptions, rollupsFor } from './rollups.js';

const BASE = Date.UTC(2026, 10, 27, 9);
/** Not on a minute edge: windows end inside the open minute. */
const NOW = BASE + 3 * HOUR_MS + 37 * MINUTE_MS + 12_345;
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };
const ENDPOINTS = ['chat', 'embeddings', 'models'];
const MODELS = ['gpt-4o-mini', 'gpt-4.1-mini'];
const REGIONS = ['us-west-1', 'eu-west-1'];

async function freshTable(): Promise<string> {
  const tableName = `compact-${randomUUID().slice(0, 8)}`;
  await ensureSchema({
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT as string,
    s3Endpoint: process.env.S3_ENDPOINT as string,
    tableName,
    buckets: [],
  });
  return tableName;
}

const options = (tableName: string, now = NOW): CompactOptions => ({
  tableName,
  ...RETENTION,
  now,
  sources: ['probe'],
  lookbackMs: 4 * HOUR_MS,
  // The whole lookback in one run: these tests are about what a run writes, not about its cap.
  maxMinutes: 6 * 60,
});

/** Runs the compactor until it has nothing left to catch up on. */
async function compactAll(tableName: string, now = NOW) {
  for (let run = 0; run < 20; run++) {
    const result = await compactClosedPeriods(options(tableName, now));
    if (Object.values(result.minutes).every((n) => n === 0) && result.rebuilt === 0) return;
  }
  throw new Error('compaction did not settle');
}

const levelOf = (code: string) =>
  COMPACT_LEVELS.find((l) => l.code === code) as (typeof COMPACT_LEVELS)[number];

const closeTo = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Every figure of two aggregates: counts and histogram buckets exactly, float sums to rounding. */
function expectSameFigures(actual: Aggregate, expected: Aggregate, where: string) {
  const counts = (a: Aggregate) => ({
    total: a.total,
    ok: a.ok,
    simulated: a.simulated,
    errors: a.errors,
    statusClasses: a.statusClasses,
    tokens: a.tokens,
    pricedEvents: a.cost.pricedEvents,
    reused: a.reused,
    phaseCounts: PHASES.map((p) => a.phases[p].n),
    last: a.last ?? null,
    latency: a.latency.buckets(),
  });
  expect(counts(actual), where).toEqual(counts(expected));
  const sums = (a: Aggregate) => [a.latencySum, a.bytes, a.cost.usd, ...PHASES.map((p) => a.phases[p].sum)];
  const [x, y] = [sums(actual), sums(expected)];
  x.forEach((value, i) => {
    expect(closeTo(value, y[i] as number), `${where}: sum ${i} ${value} vs ${y[i]}`).toBe(true);
  });
}

/** Per endpoint and per label set, what a read gives. */
function figuresOf(items: RollupItem[]) {
  const labels = new Map<string, Aggregate>();
  for (const item of items) {
    const id = `${item.endpoint}|${item.model}|${item.region}`;
    let aggregate = labels.get(id);
    if (!aggregate) {
      aggregate = emptyAggregate();
      labels.set(id, aggregate);
    }
    addRollupItem(aggregate, item);
  }
  return { endpoints: byEndpoint(items), labels };
}

/** A read through compact periods and the same read of live rollups only must give the same figures. */
async function expectCompactedEqualsLive(
  tableName: string,
  read: Omit<RollupReadOptions, 'sources'>,
  now = NOW,
) {
  const request = { sources: ['probe' as const], ...read };
  const compactReader = rollupsFor({ config: { tableName }, now });
  const compacted = await compactReader.read(request);
  const live = await rollupsFor({ config: { tableName }, now }).read({ ...request, compacted: false });
  const a = figuresOf(compacted);
  const b = figuresOf(live);
  const where = `[${new Date(read.from).toISOString()}, ${new Date(read.to).toISOString()})`;
  expect([...a.endpoints.keys()].sort(), where).toEqual([...b.endpoints.keys()].sort());
  for (const [endpoint, aggregate] of b.endpoints)
    expectSameFigures(a.endpoints.get(endpoint) as Aggregate, aggregate, `${where} ${endpoint}`);
  if (read.byLabelSet) {
    expect([...a.labels.keys()].sort(), where).toEqual([...b.labels.keys()].sort());
    for (const [id, aggregate] of b.labels)
      expectSameFigures(a.labels.get(id) as Aggregate, aggregate, `${where} ${id}`);
  }
  return compactReader;
}

const eventArbitrary = fc.record({
  minute: fc.integer({ min: 0, max: 3 * 60 + 37 }),
  second: fc.integer({ min: 0, max: 59_999 }),
  endpoint: fc.constantFrom(...ENDPOINTS),
  model: fc.constantFrom(...MODELS),
  region: fc.constantFrom(...REGIONS),
  ok: fc.boolean(),
  latencyMs: fc.integer({ min: 0, max: 20_000_000 }).map((us) => us / 1000),
  errorType: fc.constantFrom(...ERROR_TYPES),
  status: fc.constantFrom(200, 429, 500, undefined),
  inputTokens: fc.integer({ min: 0, max: 5000 }),
  cost: fc.option(
    fc.integer({ min: 0, max: 10 ** 9 }).map((n) => n / 10 ** 9),
    { nil: undefined },
  ),
});

type EventSpecs = typeof eventArbitrary extends fc.Arbitrary<infer T> ? T[] : never;

function toEvents(specs: EventSpecs, prefix: string) {
  const make = traceEvents(prefix);
  return specs.map(
    (s): TraceEvent =>
      make({
        ts: BASE + s.minute * MINUTE_MS + s.second,
        endpoint: s.endpoint,
        model: s.model,
        region: s.region,
        ok: s.ok,
        latencyMs: s.latencyMs,
        ...(s.ok ? {} : { errorType: s.errorType }),
        ...(s.status === undefined ? {} : { status: s.status }),
        usage: { input: s.inputTokens, output: 1, cached: 0, reasoning: 0 },
        ...(s.cost === undefined ? {} : { costUsd: s.cost }),
        timing: { ttfbMs: s.latencyMs / 2, reused: s.second % 2 === 0 },
      }),
  );
}

describe('packed aggregates', () => {
  it('unpack to exactly what was packed (property)', () => {
    fc.assert(
      fc.property(fc.array(eventArbitrary, { maxLength: 40 }), (specs) => {
        // The figures of real rollup deltas: the attributes the table holds.
        const deltas = rollupDeltas(
          toEvents(specs, 'p').map((event) => ({ event, resolutions: ['hour' as const] })),
          { tableName: 't', ...RETENTION },
          0,
        );
        const groups = deltas.map((delta, i) => {
          const aggregate = emptyAggregate();
          addRollupItem(aggregate, { ...Object.fromEntries(delta.counters), ...delta.last });
          return { endpoint: `e${i}`, model: 'm#1', region: 'ré', aggregate };
        });
        const back = unpackGroups(packGroups(groups));
        expect(back).toHaveLength(groups.length);
        back.forEach((group, i) => {
          const original = groups[i] as (typeof groups)[number];
          expect(group.aggregate.latency.equals(original.aggregate.latency)).toBe(true);
          expect({ ...group, aggregate: { ...group.aggregate, latency: null } }).toEqual({
            ...original,
            aggregate: { ...original.aggregate, latency: null },
          });
        });
      }),
    );
  });

  it('keeps every counter of a full aggregate, floats and large counts included', () => {
    const aggregate = emptyAggregate();
    aggregate.total = 2 ** 52 + 1;
    aggregate.ok = 7;
    aggregate.latencySum = 1234.5678;
    ERROR_TYPES.forEach((type, i) => {
      aggregate.errors[type] = i + 1;
    });
    STATUS_CLASSES.forEach((cls, i) => {
      aggregate.statusClasses[cls] = 10 * i;
    });
    aggregate.cost.usd = 0.1 + 0.2;
    aggregate.phases.ttft = { sum: -0, n: 3 };
    aggregate.latency.add(0, 5);
    aggregate.latency.add(12_345.6, 2 ** 40);
    aggregate.last = { ts: NOW, ok: false, status: null, errorType: 'timeout' };
    const [back] = unpackGroups(packGroups([{ endpoint: '', model: '', region: '', aggregate }]));
    expect(back?.aggregate.latency.equals(aggregate.latency)).toBe(true);
    expect({ ...back?.aggregate, latency: null }).toEqual({ ...aggregate, latency: null });
    expect(() => unpackGroups(new Uint8Array([9]))).toThrow(RangeError);
  });

  it('deflates a busy hour (format 2) and still reads the plain format 1 items written before it', () => {
    // 30 label sets of an hour's latencies: the histograms' varints repeat, so deflate wins.
    const groups = Array.from({ length: 30 }, (_, i) => {
      const aggregate = emptyAggregate();
      for (let b = 0; b < 60; b++) aggregate.latency.add(50 * 1.05 ** b, 1 + ((b * 7 + i) % 13));
      aggregate.total = 600 + i;
      aggregate.ok = 590 + i;
      return { endpoint: `endpoint-${i % 10}`, model: `model-${i % 3}`, region: 'us-east-1', aggregate };
    });
    const packed = packGroups(groups);
    expect(packed[0]).toBe(2);
    const plain = new Uint8Array([1, ...inflateRawSync(packed.subarray(1))]);
    expect(packed.byteLength).toBeLessThan(plain.byteLength * 0.9);
    const fromPlain = unpackGroups(plain);
    const fromDeflated = unpackGroups(packed);
    fromDeflated.forEach((group, i) => {
      expect(
        group.aggregate.latency.equals(groups[i]?.aggregate.latency as typeof group.aggregate.latency),
      ).toBe(true);
      expect(fromPlain[i]?.aggregate.latency.equals(group.aggregate.latency)).toBe(true);
      expect({ ...fromPlain[i], aggregate: { ...fromPlain[i]?.aggregate, latency: null } }).toEqual({
        ...group,
        aggregate: { ...group.aggregate, latency: null },
      });
    });
    // Bytes that do not inflate are refused like any bytes this code did not write.
    expect(() => unpackGroups(new Uint8Array([2, 0xff, 0xff, 0xff]))).toThrow(RangeError);
  });
});

describe('cellsOf', () => {
  it('covers a range with the fewest aligned periods, only those fitting the bucket', () => {
    const cells = cellsOf(BASE + 35 * MINUTE_MS, BASE + 2 * HOUR_MS + 12 * MINUTE_MS);
    expect(cells.map((c) => c.level.code).join('')).toBe('mmmmmbbhbmm');
    expect(cells[0]?.from).toBe(BASE + 35 * MINUTE_MS);
    expect(cells.at(-1)?.to).toBe(BASE + 2 * HOUR_MS + 12 * MINUTE_MS);
    // Five-minute buckets cannot hold a ten-minute block.
    expect(new Set(cellsOf(BASE, BASE + HOUR_MS, 5 * MINUTE_MS).map((c) => c.level.code))).toEqual(
      new Set(['m']),
    );
    expect(cellsOf(BASE, BASE + 2 * HOUR_MS, HOUR_MS).map((c) => c.level.code)).toEqual(['h', 'h']);
    // A whole UTC day is one period, unless the caller's buckets are shorter.
    const midnight = Date.UTC(2026, 10, 27);
    expect(
      cellsOf(midnight - HOUR_MS, midnight + DAY_MS + 10 * MINUTE_MS)
        .map((c) => c.level.code)
        .join(''),
    ).toBe('hdb');
    expect(cellsOf(midnight, midnight + DAY_MS, HOUR_MS)).toHaveLength(24);
  });
});

describe('the decoded periods a warm container keeps', () => {
  const period = (bytes: number) => ({ versions: 0, groups: [], bytes });

  it('keeps a working set larger than any fixed share of it, dropping the least recently used first', () => {
    const kept = new PeriodCache(3, 1000);
    for (const id of ['a', 'b', 'c']) kept.keep(id, period(10));
    // Reading `a` again makes `b` the least recently used: it goes when `d` comes.
    expect(kept.get('a')).toBeDefined();
    kept.keep('d', period(10));
    expect(['a', 'b', 'c', 'd'].filter((id) => kept.has(id))).toEqual(['a', 'c', 'd']);
    // A check does not count as a use.
    kept.peek('c');
    kept.keep('e', period(10));
    expect(kept.has('c')).toBe(false);
  });

  it('bounds the packed bytes as well as the count: many empty periods, few full ones', () => {
    const kept = new PeriodCache(100, 1000);
    for (let i = 0; i < 100; i++) kept.keep(`empty${i}`, period(0));
    expect(kept.size).toBe(100);
    kept.keep('full1', period(600));
    kept.keep('full2', period(600));
    expect(kept.has('full1')).toBe(false);
    expect(kept.has('full2')).toBe(true);
    // Replacing a period counts its bytes once.
    kept.keep('full2', period(700));
    kept.keep('small', period(300));
    expect(kept.has('full2')).toBe(true);
    kept.forget('full2');
    kept.keep('full3', period(990));
    expect(kept.has('small')).toBe(false);
    expect(kept.has('full3')).toBe(true);
  });
});

describe('compaction of closed periods', () => {
  beforeEach(() => clearCompactCache());

  it('gives exactly the figures of the live rollups, for any events and any range (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArbitrary, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: 3 * 60 + 37 }),
        fc.integer({ min: 1, max: 3 * 60 + 38 }),
        fc.boolean(),
        async (specs, fromMinute, length, byLabelSet) => {
          clearCompactCache();
          const tableName = await freshTable();
          await recordEvents(toEvents(specs, 'e'), { tableName, ...RETENTION, now: NOW });
          await compactAll(tableName);
          const from = BASE + fromMinute * MINUTE_MS + 17_000;
          const to = Math.min(NOW, from + length * MINUTE_MS);
          await expectCompactedEqualsLive(tableName, { from, to, byLabelSet });
          await expectCompactedEqualsLive(tableName, {
            from: BASE,
            to: NOW,
            bucketMs: HOUR_MS,
            resolution: 'hour',
          });
        },
      ),
      { numRuns: 6 },
    );
  }, 180_000);

  describe('on one dataset', () => {
    let tableName: string;
    const make = traceEvents('d');
    const events: TraceEvent[] = [];
    for (let minute = 0; minute < 3 * 60 + 38; minute += 1) {
      for (const [i, endpoint] of ENDPOINTS.entries()) {
        events.push(
          make({
            ts: BASE + minute * MINUTE_MS + i * 7_000,
            endpoint,
            region: REGIONS[minute % 2] as string,
            ok: minute % 11 !== 0,
            ...(minute % 11 === 0 ? { errorType: 'server_error' as const, status: 503 } : {}),
            latencyMs: 50 + ((minute * 37 + i * 101) % 900),
          }),
        );
      }
    }

    beforeEach(async () => {
      tableName = await freshTable();
      await recordEvents(events, { tableName, ...RETENTION, now: BASE + 3 * HOUR_MS + 38 * MINUTE_MS });
    });

    it('mixes compacted and live periods exactly at every boundary', async () => {
      await compactAll(tableName);
      const horizon = compactHorizon(NOW);
      // Starts on and around minute, block and hour edges; ends before, at and after the compaction horizon.
      const starts = [0, 1, 9, 10, 11, 59, 60, 61, 69, 70, 119, 120, 121].map((m) => BASE + m * MINUTE_MS);
      const ends = [
        horizon - MINUTE_MS,
        horizon,
        horizon + MINUTE_MS,
        NOW,
        BASE + 2 * HOUR_MS + 10 * MINUTE_MS,
      ];
      for (const from of starts) {
        for (const to of ends) {
          if (to <= from) continue;
          const reader = await expectCompactedEqualsLive(tableName, { from, to });
          expect(reader.compactItemsRead).toBeGreaterThan(0);
        }
      }
    });

    it('reads a closed range from compact items only, a few per hour', async () => {
      await compactAll(tableName);
      const reader = await expectCompactedEqualsLive(tableName, {
        from: BASE + 35 * MINUTE_MS,
        to: BASE + 3 * HOUR_MS,
      });
      // 5 minutes + 2 blocks + 2 hours, plus the day's late-versions item.
      expect(reader.compactItemsRead).toBe(10);
      expect(reader.itemsRead).toBe(10);
      // A warm container has them decoded already: only the late versions are read again.
      const again = await expectCompactedEqualsLive(tableName, {
        from: BASE + 35 * MINUTE_MS,
        to: BASE + 3 * HOUR_MS,
      });
      expect(again.itemsRead).toBe(1);
    });

    it("fetches each item once for a request's reads running at once (a window and its burn windows)", async () => {
      await compactAll(tableName);
      // As /status reads: the window, and inside it the last 1 h and 6 h, all started before any answers.
      const ranges = [
        { from: BASE + 35 * MINUTE_MS, to: BASE + 3 * HOUR_MS },
        { from: BASE + 2 * HOUR_MS - 25 * MINUTE_MS, to: BASE + 3 * HOUR_MS },
        { from: BASE + 50 * MINUTE_MS, to: BASE + 3 * HOUR_MS },
      ];
      const together = rollupsFor({ config: { tableName }, now: NOW });
      const answers = await Promise.all(ranges.map((r) => together.read({ sources: ['probe'], ...r })));
      let apart = 0;
      for (const [i, range] of ranges.entries()) {
        clearCompactCache();
        const alone = rollupsFor({ config: { tableName }, now: NOW });
        const expected = figuresOf(await alone.read({ sources: ['probe'], ...range }));
        apart += alone.itemsRead;
        const got = figuresOf(answers[i] as RollupItem[]);
        for (const [endpoint, aggregate] of expected.endpoints)
          expectSameFigures(got.endpoints.get(endpoint) as Aggregate, aggregate, `range ${i} ${endpoint}`);
      }
      // Window: 5 minutes + 2 blocks + 2 hours + the day's late versions (10). The second read adds
      // its own edge (5 minutes, 2 blocks) and the third nothing: the rest is shared, not read again.
      expect(together.itemsRead).toBe(17);
      expect(apart).toBeGreaterThan(together.itemsRead);
    });

    it('answers a cold /status in one round of calls, and one more where a compaction is missing', async () => {
      // Back to before the 6 h burn window starts, so every closed period it reads is compacted (empty ones too).
      for (let run = 0; run < 20; run++) {
        const result = await compactClosedPeriods({ ...options(tableName), lookbackMs: 8 * HOUR_MS });
        if (result.minutes.probe === 0 && result.rebuilt === 0) break;
      }
      const status = async () => {
        clearCompactCache();
        const config = parseConfig({ TABLE_NAME: tableName });
        const trace = traceStoreCalls();
        try {
          const answer = await computeStatus({
            config,
            range: resolveRange({ window: '180' }, config, NOW, 60),
            filters: resolveFilters({}, 'probe'),
            now: NOW,
          });
          return { answer, rounds: trace.rounds(), calls: trace.calls.length };
        } finally {
          trace.remove();
        }
      };
      const config = parseConfig({ TABLE_NAME: tableName });
      // As before compaction existed: the reference answer.
      const liveRequest = {
        config,
        range: resolveRange({ window: '180' }, config, NOW, 60),
        filters: resolveFilters({}, 'probe'),
        now: NOW,
        liveOnly: true,
      };
      const live = await computeStatus(liveRequest);
      const figures = (answer: typeof live) => JSON.stringify({ ...answer, meta: null });
      // The window and its 1 h and 6 h burn windows: compact items, late versions and the minutes after
      // the compaction horizon (never compacted) are all asked for at once.
      const cold = await status();
      expect(cold.rounds).toBe(1);
      expect(cold.calls).toBeGreaterThan(1);
      expect(figures(cold.answer)).toBe(figures(live));
      // Only the compact items say which periods must be read live instead: that takes a second round.
      const key = compactKey('probe', 'E', levelOf('h'), BASE + HOUR_MS);
      await dynamoClient().send(
        new DeleteCommand({
          TableName: tableName,
          Key: { [TABLE.partitionKey]: key.pk, [TABLE.sortKey]: key.sk },
        }),
      );
      const fallback = await status();
      expect(fallback.rounds).toBe(2);
      expect(fallback.answer.meta.itemsRead).toBeGreaterThan(cold.answer.meta.itemsRead);
      expect(figures(fallback.answer)).toBe(figures(live));
    });

    it('is idempotent: compacting the same periods again writes the same items', async () => {
      await compactAll(tableName);
      // The hour from BASE + 1 h, its first block and minute (the day is not over at NOW).
      const keys = COMPACT_LEVELS.filter((level) => level.code !== 'd').flatMap((level) =>
        (['E', 'L'] as const).map((view) => compactKey('probe', view, level, BASE + HOUR_MS)),
      );
      const snapshot = async () => {
        const { batchGet } = await import('./compaction.js');
        const items = await batchGet(tableName, keys, undefined, true);
        return keys.map((k) => items.get(`${k.pk}|${k.sk}`));
      };
      const first = await snapshot();
      expect(first.every((item) => item?.g instanceof Uint8Array)).toBe(true);
      // Forget the progress: the next run compacts everything again.
      await dynamoClient().send(
        new DeleteCommand({
          TableName: tableName,
          Key: { [TABLE.partitionKey]: compactorKey('probe').pk, [TABLE.sortKey]: compactorKey('probe').sk },
        }),
      );
      await compactAll(tableName);
      expect(await snapshot()).toEqual(first);
      await expectCompactedEqualsLive(tableName, { from: BASE, to: NOW });
    });

    it('falls back to the live rollups where a compaction is missing', async () => {
      await compactAll(tableName);
      for (const [level, start] of [
        [levelOf('h'), BASE + HOUR_MS],
        [levelOf('b'), BASE + 2 * HOUR_MS + 10 * MINUTE_MS],
        [levelOf('m'), BASE + 3 * HOUR_MS + 31 * MINUTE_MS],
      ] as const) {
        const key = compactKey('probe', 'E', level, start);
        await dynamoClient().send(
          new DeleteCommand({
            TableName: tableName,
            Key: { [TABLE.partitionKey]: key.pk, [TABLE.sortKey]: key.sk },
          }),
        );
      }
      clearCompactCache();
      const reader = await expectCompactedEqualsLive(tableName, { from: BASE + 5 * MINUTE_MS, to: NOW });
      expect(reader.compactItemsRead).toBeGreaterThan(0);
      expect(reader.itemsRead).toBeGreaterThan(reader.compactItemsRead);
      // Nothing compacted at all: every period is read live, with the same figures.
      const bare = await freshTable();
      await recordEvents(events.slice(0, 60), { tableName: bare, ...RETENTION, now: NOW });
      const uncompacted = await expectCompactedEqualsLive(bare, { from: BASE, to: NOW });
      expect(uncompacted.compactItemsRead).toBe(1); // the late-versions item, nothing else
    });

    it('never uses a compaction a late write has changed, and rebuilds it on the next run', async () => {
      await compactAll(tableName);
      const range = { from: BASE, to: NOW };
      await expectCompactedEqualsLive(tableName, range);
      // A trace of a compacted minute, an hour after it ended; and a failed write's undo leaves figures unchanged.
      const late = make({
        ts: BASE + HOUR_MS + 15 * MINUTE_MS + 1,
        endpoint: 'chat',
        latencyMs: 4321,
        ok: false,
        errorType: 'timeout',
      });
      await recordEvents([late], { tableName, ...RETENTION, now: NOW });
      const stale = await expectCompactedEqualsLive(tableName, range);
      const before = stale.itemsRead;
      await compactAll(tableName);
      const rebuilt = await expectCompactedEqualsLive(tableName, range);
      expect(rebuilt.itemsRead).toBeLessThan(before);
      const chat = figuresOf(
        await rollupsFor({ config: { tableName }, now: NOW }).read({ sources: ['probe'], ...range }),
      );
      expect(chat.endpoints.get('chat')?.errors.timeout).toBe(1);
    });
  });
});

describe("a new table's first runs", () => {
  it('leave a day whose first hours no run compacted to the reads, rather than reading its minutes one by one', async () => {
    // 22:27: the default 2-day lookback starts at 22:00 two days ago, so the first run compacts 22:00-23:00
    // and the second 23:00-24:00, closing that day. Its 22 hours before were never compacted.
    const now = Date.UTC(2026, 10, 27, 22, 27, 12);
    const tableName = await freshTable();
    const dayStart = Date.UTC(2026, 10, 25);
    const make = traceEvents('first-runs');
    await recordEvents(
      [
        make({ ts: dayStart + 3 * HOUR_MS, endpoint: 'chat' }),
        make({ ts: dayStart + 22 * HOUR_MS + 5 * MINUTE_MS, endpoint: 'chat' }),
        make({
          ts: dayStart + 23 * HOUR_MS + 30 * MINUTE_MS,
          endpoint: 'models',
          ok: false,
          errorType: 'timeout',
        }),
      ],
      { tableName, ...RETENTION, now },
    );
    const run = { tableName, ...RETENTION, sources: ['probe' as const] };
    await compactClosedPeriods({ ...run, now });
    const trace = traceStoreCalls();
    try {
      const second = await compactClosedPeriods({ ...run, now: now + 60_000 });
      expect(second.minutes.probe).toBe(60);
      // The 60 minutes of the run, not the 1,380 of the day before them (a Query per shard each).
      const queries = trace.calls.filter((c) => c.command === 'QueryCommand').length;
      expect(queries).toBeLessThan(100);
    } finally {
      trace.remove();
    }
    // Reads over that day are exact: compacted hours where there are, live rollups for the rest.
    await expectCompactedEqualsLive(tableName, { from: dayStart, to: dayStart + DAY_MS }, now + 60_000);
    await expectCompactedEqualsLive(
      tableName,
      { from: dayStart, to: dayStart + DAY_MS, byLabelSet: true },
      now + 60_000,
    );
  });
});

describe('rollup shards', () => {
  /** Per rollup bucket and label set: the figures of the items given. */
  function figuresByBucket(items: readonly Record<string, unknown>[]) {
    const out = new Map<string, Aggregate>();
    for (const item of items) {
      const id = `${item.resolution}|${item.bucketStart}|${item.endpoint}|${item.model}|${item.region}`;
      const aggregate = out.get(id) ?? emptyAggregate();
      addRollupItem(aggregate, item);
      out.set(id, aggregate);
    }
    return out;
  }

  /** The rollup partitions (with their shard) a table holds: a test table, so Scan is fine. */
  async function rollupPartitions(tableName: string): Promise<Set<string>> {
    const found = new Set<string>();
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamoClient().send(
        new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ProjectionExpression: 'pk' }),
      );
      for (const item of page.Items ?? []) if (/^R[MH]#/.test(String(item.pk))) found.add(String(item.pk));
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  }

  it('read back, live and compacted, equal to one unsharded rollup per label set (property)', async () => {
    let mostShards = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArbitrary, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }),
        async (specs, requestSizes) => {
          clearCompactCache();
          const tableName = await freshTable();
          const events = toEvents(specs, 's');
          // Several requests, each its own writer and so (most likely) its own shard.
          const requests: TraceEvent[][] = [];
          for (let i = 0, r = 0; i < events.length; r++) {
            const size = requestSizes[r % requestSizes.length] as number;
            requests.push(events.slice(i, i + size));
            i += size;
          }
          await Promise.all(
            requests.map((batch) => recordEvents(batch, { tableName, ...RETENTION, now: NOW })),
          );
          mostShards = Math.max(
            mostShards,
            new Set([...(await rollupPartitions(tableName))].map((pk) => pk.slice(pk.lastIndexOf('#')))).size,
          );
          // What one writer of every event would have put on one shard: one item per label set and bucket.
          const unsharded = rollupDeltas(
            events.map((event) => ({ event, resolutions: ['minute' as const, 'hour' as const] })),
            { tableName, ...RETENTION },
            0,
          ).map((delta) => ({ ...delta.identity, ...Object.fromEntries(delta.counters), ...delta.last }));
          const expected = figuresByBucket(unsharded);
          const live = rollupsFor({ config: { tableName }, now: NOW, liveOnly: true });
          const read = [
            ...(await live.read({ sources: ['probe'], from: BASE, to: NOW, resolution: 'minute' })),
            ...(await live.read({ sources: ['probe'], from: BASE, to: NOW, resolution: 'hour' })),
          ];
          const actual = figuresByBucket(read);
          expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [id, aggregate] of expected)
            expectSameFigures(actual.get(id) as Aggregate, aggregate, id);
          // Compaction merges the shards into one item per period: the same figures again.
          await compactAll(tableName);
          await expectCompactedEqualsLive(tableName, { from: BASE, to: NOW, byLabelSet: true });
          // By endpoint, the minutes not compacted yet come from the endpoint minutes: the same figures.
          await expectCompactedEqualsLive(tableName, { from: BASE, to: NOW });
        },
      ),
      { numRuns: 6 },
    );
    // How many shards the random runs happened to use (often more than one, but that is chance).
    expect(mostShards).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('spreads the writers of the same minutes over several shards', async () => {
    const tableName = await freshTable();
    const events = toEvents(fc.sample(eventArbitrary, { numRuns: 16, seed: 7 }), 'w');
    // Eight requests, each its own writer with a random token: all on one shard has odds of 8 × 8⁻⁸.
    for (let i = 0; i < events.length; i += 2) {
      await recordEvents(events.slice(i, i + 2), { tableName, ...RETENTION, now: NOW });
    }
    const shards = new Set(
      [...(await rollupPartitions(tableName))].map((pk) => pk.slice(pk.lastIndexOf('#'))),
    );
    expect(shards.size).toBeGreaterThan(1);
  });
});
