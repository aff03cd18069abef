/**
 * The write path's recovery, store-level: a writer that crashes anywhere,
 * then an adopter that crashes anywhere too, and the delivery after them
 * still leaves every event stored once and counted once; and a rollup's last
 * result is its latest call whatever order concurrent writers arrive in.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkConsistency,
  type FaultInjector,
  injectStoreFaults,
  traceStoreCalls,
} from '../../test/faults.js';
import { useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { ERROR_TYPES } from '../events/model.js';
import { FUNCTIONS } from '../routes.js';
import { addRollupItem, emptyAggregate } from '../stats/aggregate.js';
import { bucketIndex } from '../stats/histogram.js';
import {
  ALWAYS_FITS,
  EventsInFlight,
  EXPRESSION_LIMIT_BYTES,
  type RecordOptions,
  ROLLUP_KINDS,
  recordEvents,
  rollupDeltas,
  updateExpressionBytes,
} from './events.js';
import { WRITE_LEASE_MS } from './item-layout.js';
import { rollupsFor } from './rollups.js';

const NOW = Date.UTC(2026, 10, 30, 9, 0, 0);
let tableName: string;
beforeAll(async () => {
  ({ tableName } = await useFreshStore());
});

let faults: FaultInjector | undefined;
afterEach(() => {
  faults?.remove();
  faults = undefined;
});

const options = (now: number): RecordOptions => ({
  tableName,
  retentionDays: 30,
  rollupRetentionDays: 400,
  now,
});

/** Five events over two label sets, two minutes and two hours, unique to `tag`. */
const eventsOf = (tag: string): TraceEvent[] =>
  Array.from({ length: 5 }, (_, i) => ({
    id: `${tag}-${i}`,
    ts: NOW - 61 * 60_000 + (i % 2) * 30 * 60_000 + i * 1000,
    source: 'ingest',
    endpoint: i % 2 ? 'chat' : 'embeddings',
    ok: i !== 2,
    ...(i === 2 ? { status: 503, errorType: 'server_error' as const } : { status: 200 }),
    latencyMs: 20 + i * 11,
  }));

async function writesOf(tag: string): Promise<number> {
  const counter = injectStoreFaults();
  try {
    await recordEvents(eventsOf(tag), options(NOW));
    return counter.writes;
  } finally {
    counter.remove();
  }
}

/** The live rollups' figures of an ingested endpoint over one minute, from its minute or its hour items. */
async function liveFigures(endpoint: string, minute: number, resolution: 'minute' | 'hour') {
  const items = await rollupsFor({ config: { tableName }, now: NOW, liveOnly: true }).read({
    sources: ['ingest'],
    from: minute,
    to: minute + 60_000,
    resolution,
  });
  const figures = emptyAggregate();
  for (const item of items.filter((i) => i.endpoint === endpoint)) addRollupItem(figures, item);
  return figures;
}

async function expectExact(visible: number) {
  const state = await checkConsistency(tableName);
  expect(state.mismatches).toEqual([]);
  expect(state.pending).toBe(0);
  expect(state.visible).toBe(visible);
  return state;
}

describe('crash, then the adopter crashes too', () => {
  it('completes exactly on the next delivery, wherever the two crashes fall', async () => {
    // 5 claims, 6 rollup updates (2 label-set minutes, 2 hours, 2 endpoint minutes), 1 late mark
    // (the minutes ended an hour before the write: shared/store/compaction.ts), 1 commit, 6 marker clean-ups.
    expect(await writesOf('measure-first')).toBe(19);
    let scenarios = 0;
    // The first writer dies at its first or last rollup update, at its late mark, or at its commit.
    for (const first of [6, 11, 12, 13]) {
      // A table per crash point keeps each check's read small.
      ({ tableName } = await useFreshStore());
      let visible = 0;
      let markersBefore = 0;
      // Crash the adopter at each of its writes until it no longer reaches the crash.
      for (let second = 1; ; second++) {
        const tag = `crash-${first}-${second}`;
        const events = eventsOf(tag);
        let now = NOW;
        faults = injectStoreFaults();
        faults.failAt(first, 'crash');
        await expect(recordEvents(events, options(now))).rejects.toThrow(/crashed|crash/);
        faults.heal();

        now += WRITE_LEASE_MS + 1;
        faults.failAt(second, 'crash');
        const adopter = await recordEvents(events, options(now)).then(
          (result) => result,
          (error: unknown) => error,
        );
        const crashed = faults.fired;
        faults.remove();
        faults = undefined;

        now += WRITE_LEASE_MS + 1;
        const last = await recordEvents(events, options(now));
        visible += 5;
        scenarios++;
        const state = await expectExact(visible);
        // A writer's markers are removed by itself or by the one that adopts from it; only when
        // two writers in a row died can the first one's confirmed markers stay behind.
        if (!crashed) expect(state.markers).toBe(markersBefore);
        markersBefore = state.markers;
        if (!crashed) {
          // The adopter finished before its crash point: it stored everything, the last delivery found duplicates.
          expect(adopter).toMatchObject({ stored: 5 });
          expect(last).toMatchObject({ stored: 0, duplicates: 5 });
          break;
        }
      }
    }
    expect(scenarios).toBeGreaterThan(20);
    // Many scenarios, each a few dozen requests to the local store: room for a loaded machine.
  }, 120_000);
});

describe('a writer that outlives its lease', () => {
  it('stalled at any write while another delivery adopts its events: each event is counted once', async () => {
    ({ tableName } = await useFreshStore());
    let visible = 0;
    for (let at = 1; at <= 19; at++) {
      const events = eventsOf(`stall-${at}`);
      faults = injectStoreFaults();
      const stall = faults.holdAt(at);
      const stalled = recordEvents(events, options(NOW)).then(
        (result) => result,
        (error: unknown) => error,
      );
      await stall.reached;
      // While it is stalled, its lease runs out and the next delivery takes its events over.
      const adopter = await recordEvents(events, options(NOW + WRITE_LEASE_MS + 1));
      expect(adopter.stored + adopter.duplicates).toBe(5);
      stall.release();
      const late = await stalled;
      faults.remove();
      faults = undefined;
      // Whatever the stalled writer did after waking, nothing is counted twice or lost.
      if (!(late instanceof Error)) expect(late).toMatchObject({ refused: [] });
      visible += 5;
      const state = await checkConsistency(tableName);
      expect(state.mismatches).toEqual([]);
      expect(state.pending).toBe(0);
      expect(state.visible).toBe(visible);
    }
  });
});

describe('the lease', () => {
  it('outlasts every function that writes to the table, so an expired claim belongs to a writer that is gone', () => {
    const writers = FUNCTIONS.filter((f) => f.access?.table === 'readWrite');
    expect(writers.map((f) => f.name)).toEqual(expect.arrayContaining(['probe', 'ingest']));
    for (const writer of writers) expect(writer.timeoutSec * 1000).toBeLessThan(WRITE_LEASE_MS);
  });
});

describe('events held by a writer still within its lease', () => {
  it('are reported in flight, the others stored; after the lease they are adopted and counted once', async () => {
    const events = eventsOf('held');
    faults = injectStoreFaults();
    faults.failAt(3, 'crash');
    await expect(recordEvents(events.slice(0, 3), options(NOW))).rejects.toThrow();
    faults.remove();
    faults = undefined;
    const before = await checkConsistency(tableName);
    expect(before.pending).toBe(2);

    // Within the lease: the two pending events are someone else's, the other three are stored.
    const error = await recordEvents(events, options(NOW + 1000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventsInFlight);
    expect((error as EventsInFlight).count).toBe(2);
    expect((error as EventsInFlight).partial).toMatchObject({ stored: 3, duplicates: 0 });

    const after = await recordEvents(events, options(NOW + WRITE_LEASE_MS + 1));
    expect(after).toMatchObject({ stored: 2, duplicates: 3 });
    const state = await checkConsistency(tableName);
    expect(state.mismatches).toEqual([]);
    expect(state.pending).toBe(0);
  });

  it('refuses what cannot be stored before writing anything', async () => {
    const [good] = eventsOf('refuse');
    const result = await recordEvents(
      [
        good as TraceEvent,
        { ...(good as TraceEvent), id: 'refuse-old', ts: NOW - 31 * 86_400_000 },
        { ...(good as TraceEvent), id: 'refuse-nan', latencyMs: Number.NaN },
        { ...(good as TraceEvent), id: 'refuse-big', usage: { input: 2 ** 60 } },
      ],
      options(NOW),
    );
    expect(result.stored).toBe(1);
    expect(result.refused.map((r) => [r.index, r.field])).toEqual([
      [1, 'ts'],
      [2, 'latencyMs'],
      [3, 'usage.input'],
    ]);
  });
});

describe('the last result of a rollup', () => {
  it('is the latest call, in whatever order the writers of its shards arrive', async () => {
    // Forty one-call requests of one minute and label set, newest first. Each writer picks one of the
    // eight rollup shards, so most shards are reached again by an older call after a newer one: that
    // older call must not set the shard's last result back in time. (Were it to, the newest call's
    // shard would keep it only if no other request landed there: odds of (7/8)^39, under 1%.)
    const minute = NOW - 3 * 60 * 60_000;
    const calls: TraceEvent[] = Array.from({ length: 40 }, (_, i) => ({
      id: `order-${i}`,
      ts: minute + 50_000 - i * 1000,
      source: 'ingest',
      endpoint: 'moderations',
      ...(i === 0
        ? { ok: false, status: 503, errorType: 'server_error' as const }
        : { ok: true, status: 200 }),
      latencyMs: 30,
    }));
    for (const call of calls) await recordEvents([call], options(NOW));
    for (const resolution of ['minute', 'hour'] as const) {
      const figures = await liveFigures('moderations', minute, resolution);
      expect(figures.total, resolution).toBe(40);
      expect(figures.last, resolution).toEqual({
        ts: minute + 50_000,
        ok: false,
        status: 503,
        errorType: 'server_error',
      });
    }
  });
});

describe("DynamoDB's 4 KB limit on an update expression", () => {
  /** `count` calls of one label set and minute, each latency in its own histogram bucket, every error type and a status class each. */
  function diverseCalls(tag: string, count: number, minute: number): TraceEvent[] {
    return Array.from({ length: count }, (_, i) => {
      const errorType = ERROR_TYPES[i % (ERROR_TYPES.length + 1)];
      return {
        id: `${tag}-${i}`,
        ts: minute + (i % 60) * 1000,
        source: 'ingest',
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        region: 'eu-west-1',
        ok: errorType === undefined,
        status: [200, 301, 429, 503, undefined][i % 5],
        ...(errorType ? { errorType } : {}),
        // 1.021^i ms: each call a bucket further up (the buckets are 2% wide), from 1 ms to an hour.
        latencyMs: Math.min(3_600_000, 1.021 ** i),
        timing: {
          dnsMs: 1,
          connectMs: 2,
          tlsMs: 3,
          ttfbMs: 4,
          transferMs: 5,
          ttftMs: 6,
          reused: i % 2 === 0,
        },
        usage: { input: 10, output: 20, cached: 1, reasoning: 2 },
        costUsd: 0.001,
        streamed: i % 3 === 0,
      };
    });
  }

  it(`is never reached by ${ALWAYS_FITS} calls, the size recorded without measuring`, () => {
    const calls = diverseCalls('fits', ALWAYS_FITS, NOW - 2 * 60 * 60_000);
    expect(new Set(calls.map((c) => bucketIndex(c.latencyMs))).size).toBe(ALWAYS_FITS);
    const deltas = rollupDeltas(
      calls.map((event) => ({ event, resolutions: ROLLUP_KINDS })),
      options(NOW),
      0,
    );
    for (const delta of deltas)
      expect(updateExpressionBytes(tableName, delta)).toBeLessThanOrEqual(EXPRESSION_LIMIT_BYTES);
  });

  it('1,000 calls of one label set and minute, each in its own latency bucket, are stored and counted, no update over 4 KB', async () => {
    const minute = NOW - 4 * 60 * 60_000;
    const calls = diverseCalls('wide', 1000, minute);
    // One writer for all of them would send an expression well over the limit.
    const oneWriter = rollupDeltas(
      calls.map((event) => ({ event, resolutions: ROLLUP_KINDS })),
      options(NOW),
      0,
    );
    expect(Math.max(...oneWriter.map((d) => updateExpressionBytes(tableName, d)))).toBeGreaterThan(
      EXPRESSION_LIMIT_BYTES,
    );
    const trace = traceStoreCalls();
    try {
      const result = await recordEvents(calls, options(NOW));
      expect(result.stored).toBe(1000);
      const updates = trace.calls.filter((c) => c.input.UpdateExpression !== undefined);
      expect(updates.length).toBeGreaterThan(0);
      for (const call of updates) {
        expect(String(call.input.UpdateExpression ?? '').length).toBeLessThanOrEqual(EXPRESSION_LIMIT_BYTES);
        expect(String(call.input.ConditionExpression ?? '').length).toBeLessThanOrEqual(
          EXPRESSION_LIMIT_BYTES,
        );
      }
    } finally {
      trace.remove();
    }
    for (const resolution of ['minute', 'hour'] as const) {
      const figures = await liveFigures('responses', minute, resolution);
      expect(figures.total, resolution).toBe(1000);
      expect(figures.latency.count, resolution).toBe(1000);
    }
    expect((await checkConsistency(tableName)).mismatches).toEqual([]);
  });
});
