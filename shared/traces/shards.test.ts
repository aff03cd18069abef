/**
 * Raw events of an hour are spread over EVENT_SHARDS partitions by id
 * (shared/store/keys.ts) and `/traces` merges them back (query.ts). These
 * tests hold the two promises that makes: paging over the merged shards is
 * exact (every event once, in order, whatever the page size, bounds and hour
 * boundaries), and a retried event lands on the key it was first written to,
 * so the write path's conditional claim still finds it.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { queryEventPartition } from '../store/event-reads.js';
import { recordEvents } from '../store/events.js';
import {
  EVENT_SHARDS,
  eventHourKey,
  eventKey,
  eventShard,
  eventShardPartitions,
  floorTo,
  HOUR_MS,
  MINUTE_MS,
} from '../store/keys.js';
import { decodeCursor } from './cursor.js';
import {
  type Position,
  parseTracesRequest,
  readTraces,
  type TraceFilters,
  type TraceQuery,
  traceCursor,
} from './query.js';

const NOW = Date.now();
const SECRET = 'shards-test-secret-0123456789';
/** Each property run writes into a window of its own, this long, going back from NOW. */
const WINDOW_MS = 4 * HOUR_MS;
/** Windows that fit in the 30-day retention the reads are checked against. */
const MAX_WINDOWS = 170;

let tableName = '';
beforeAll(async () => {
  ({ tableName } = await useFreshStore());
});

const record = (events: TraceEvent[]) =>
  recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400, now: NOW });

/** The sort key's order: newest first, then by id descending. */
const newestFirst = (a: TraceEvent, b: TraceEvent) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * Offsets into a window: anywhere in its three hours, often right at an hour's
 * edges (shared by several events), and often in one busy minute, so that a
 * shard holds more than one Query's worth and the merge has to wait for it.
 */
const offset = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 3 * HOUR_MS - 1 }), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      0,
      HOUR_MS - 1,
      HOUR_MS,
      HOUR_MS + 1,
      2 * HOUR_MS - 1,
      2 * HOUR_MS,
      3 * HOUR_MS - 1,
    ),
    weight: 1,
  },
  { arbitrary: fc.integer({ min: 90 * MINUTE_MS, max: 91 * MINUTE_MS }), weight: 3 },
);

const eventSpec = fc.record({
  offset,
  id: fc.stringMatching(/^[a-z0-9-]{1,10}$/),
  chat: fc.boolean(),
  ok: fc.boolean(),
});

/** The filters a run may use: as the reader takes them, as request parameters, and as a predicate. */
const FILTERS: [TraceFilters, Record<string, string>, (e: TraceEvent) => boolean][] = [
  [{}, {}, () => true],
  [{ endpoint: ['chat'] }, { endpoint: 'chat' }, (e) => e.endpoint === 'chat'],
  [{ ok: false }, { ok: 'false' }, (e) => !e.ok],
];

describe('paging over sharded hours', () => {
  let window = 0;

  it('hands out every event of the range once, newest first, through signed cursors, whatever the pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventSpec, { maxLength: 80, size: 'max' }),
        fc.integer({ min: 2, max: 40 }),
        fc.option(fc.integer({ min: 2 * EVENT_SHARDS, max: 8 * EVENT_SHARDS }), { nil: undefined }),
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: -30 * MINUTE_MS, max: HOUR_MS }),
        fc.integer({ min: 2 * HOUR_MS, max: 3 * HOUR_MS + 30 * MINUTE_MS }),
        async (specs, limit, maxScan, filterIndex, fromOffset, toOffset) => {
          fc.pre(window < MAX_WINDOWS);
          const base = floorTo(NOW, HOUR_MS) - WINDOW_MS * ++window;
          const byKey = new Map<string, TraceEvent>();
          for (const spec of specs) {
            const event: TraceEvent = {
              id: spec.id,
              ts: base + spec.offset,
              source: 'ingest',
              endpoint: spec.chat ? 'chat' : 'embeddings',
              ok: spec.ok,
              latencyMs: 10,
            };
            byKey.set(`${event.ts}#${event.id}`, event);
          }
          const events = [...byKey.values()];
          if (events.length > 0) expect((await record(events)).stored).toBe(events.length);

          const [filters, filterParams, keep] = FILTERS[filterIndex] as (typeof FILTERS)[number];
          const query: TraceQuery = { from: base + fromOffset, to: base + toOffset, filters };
          const want = events
            .filter((e) => e.ts >= query.from && e.ts <= query.to && keep(e))
            .sort(newestFirst)
            .map((e) => e.id);

          const got: string[] = [];
          let start: Position | undefined;
          for (let pages = 0; ; pages++) {
            if (pages > 200) throw new Error('paging does not end');
            const page = await readTraces(query, { tableName, now: NOW, limit, start, maxScan });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            if (maxScan !== undefined) expect(page.scanned).toBeLessThanOrEqual(maxScan);
            // Without a scan bound, only the last page may be short.
            if (maxScan === undefined && page.next !== null) expect(page.items).toHaveLength(limit);
            got.push(...page.items.map((e) => e.id));
            if (page.next === null) break;
            // The next page starts where the signed cursor says, as a request would.
            const cursor = traceCursor(query, page.next, SECRET);
            expect(decodeCursor(cursor, SECRET)).toMatchObject(page.next);
            start = parseTracesRequest(
              { cursor, ...filterParams },
              { now: NOW, retentionDays: 30, secret: SECRET },
            ).start;
          }
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 20 },
    );
  }, 180_000);
});

describe('shard keys', () => {
  it('puts an event on the same key whenever it is written, so a retry is found and not stored twice', async () => {
    const ts = floorTo(NOW, HOUR_MS) - 2 * HOUR_MS + 17 * MINUTE_MS;
    const event: TraceEvent = {
      id: 'retried-1',
      ts,
      source: 'ingest',
      endpoint: 'chat',
      ok: true,
      latencyMs: 5,
    };
    expect(eventKey(ts, event.id)).toEqual(eventKey(ts, event.id));
    expect(eventKey(ts, event.id).pk).toBe(
      `${eventHourKey(ts)}#${String(eventShard(event.id)).padStart(2, '0')}`,
    );
    // The shard depends on the id alone.
    expect(eventShard(event.id)).toBe(eventShard('retried-1'));

    expect(await record([event])).toMatchObject({ stored: 1, duplicates: 0 });
    expect(await record([event])).toMatchObject({ stored: 0, duplicates: 1 });
    expect(await record([{ ...event }, { ...event }])).toMatchObject({ stored: 0, duplicates: 2 });

    // Exactly one copy, in its own shard, among all of the hour's.
    const copies: string[] = [];
    for (const partition of eventShardPartitions(eventHourKey(ts))) {
      const page = await queryEventPartition({
        tableName,
        partition,
        from: ts,
        to: ts,
        filters: {},
        now: NOW,
        limit: 100,
        after: null,
      });
      copies.push(...page.items.filter((item) => item.event.id === event.id).map(() => partition));
    }
    expect(copies).toEqual([eventKey(ts, event.id).pk]);
  });

  it('spreads the ids of an hour over every shard', () => {
    const perShard = new Array<number>(EVENT_SHARDS).fill(0);
    for (let i = 0; i < 16_000; i++)
      perShard[eventShard(`trace-${i}`)] = (perShard[eventShard(`trace-${i}`)] ?? 0) + 1;
    // 1,000 expected each; a binomial spread stays well within ±15%.
    for (const count of perShard) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
  });
});
