/**
 * The store scenario suite: the same scenarios for every kind of item in the
 * table, against the local servers (in the spirit of Gatus's one suite for all
 * its stores, storage/store/store_test.go). Each kind is written through the
 * store's own write path and read back through its own read API:
 *
 * - write, then read back what was written;
 * - a range read returns its items in the kind's order (raw events newest
 *   first, across hour partitions and pages; rollups oldest first);
 * - the bounds of a range are honoured (nothing before or after it);
 * - an item whose TTL has passed is left out on read (DynamoDB deletes lazily,
 *   dynalite never does).
 *
 * Idempotency items are point items (one per id, no ranges): they run the
 * read-back and TTL scenarios.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { type Position, readTraces } from '../traces/query.js';
import { recordEvents } from './events.js';
import { claimIdempotency, completeIdempotency, releaseIdempotency } from './idempotency.js';
import { DAY_MS, floorTo, HOUR_MS, MINUTE_MS } from './keys.js';
import { rollupsFor } from './rollups.js';

const NOW = Date.UTC(2026, 10, 30, 9, 20, 0);
/** Retention of every kind in this suite: one day, so expiry is reached by reading a day later. */
const RETENTION_DAYS = 1;

let tableName: string;
beforeAll(async () => {
  ({ tableName } = await useFreshStore());
});

interface RangeKind {
  name: string;
  /** Times of the items a scenario writes: five, `step` apart, ending before NOW. */
  times: number[];
  step: number;
  order: 'newest first' | 'oldest first';
  /** When the item of time `ts` expires (epoch ms). */
  expiresAt(ts: number): number;
  /** The times of the items of `tag` with `from <= time <= last`, as `now` sees them, in the order read. */
  read(tag: string, from: number, last: number, now: number): Promise<number[]>;
}

const series = (first: number, step: number) => Array.from({ length: 5 }, (_, i) => first + i * step);

/** Raw events: the shards of every hour of the range merged, newest first, two items per page to cross pages. */
async function readEvents(tag: string, from: number, last: number, now: number): Promise<number[]> {
  const times: number[] = [];
  let start: Position | null | undefined;
  do {
    const page = await readTraces(
      { from, to: last, filters: { endpoint: [tag] } },
      { tableName, now, limit: 2, start: start ?? undefined },
    );
    times.push(...page.items.map((event) => event.ts));
    start = page.next;
  } while (start);
  return times;
}

const rollupKind = (resolution: 'minute' | 'hour', step: number, keepDays: number): RangeKind => ({
  name: `${resolution} rollups`,
  times: series(floorTo(NOW, step) - 6 * step, step),
  step,
  order: 'oldest first',
  expiresAt: (ts) => floorTo(ts, step) + step + keepDays * DAY_MS,
  async read(tag, from, last, now) {
    const items = await rollupsFor({ config: { tableName }, now }).read({
      sources: ['ingest'],
      from,
      to: last + 1,
      filter: { endpoint: [tag] },
      resolution,
    });
    return items.map((item) => item.bucketStart);
  },
});

const KINDS: RangeKind[] = [
  {
    name: 'raw events',
    // 08:35 to 09:15: two hour partitions.
    times: series(NOW - 45 * MINUTE_MS, 10 * MINUTE_MS),
    step: 10 * MINUTE_MS,
    order: 'newest first',
    expiresAt: (ts) => ts + RETENTION_DAYS * DAY_MS,
    read: readEvents,
  },
  rollupKind('minute', MINUTE_MS, RETENTION_DAYS),
  rollupKind('hour', HOUR_MS, RETENTION_DAYS),
];

/** Writes one event per time through the one write path (raw event and its rollups). */
async function write(tag: string, times: number[]): Promise<void> {
  const events: TraceEvent[] = times.map((ts, i) => ({
    id: `${tag}-${i}`,
    ts,
    source: 'ingest',
    endpoint: tag,
    ok: true,
    status: 200,
    latencyMs: 20 + i,
  }));
  await recordEvents(events, {
    tableName,
    retentionDays: RETENTION_DAYS,
    rollupRetentionDays: RETENTION_DAYS,
    now: NOW,
  });
}

const inOrder = (kind: RangeKind, times: number[]) =>
  kind.order === 'newest first' ? [...times].sort((a, b) => b - a) : [...times].sort((a, b) => a - b);

describe.each(KINDS)('$name', (kind) => {
  const tag = (scenario: string) => `${kind.name.replace(' ', '-')}-${scenario}`;
  const first = kind.times[0] as number;
  const last = kind.times[kind.times.length - 1] as number;

  it('reads back what was written', async () => {
    await write(tag('back'), kind.times);
    expect(await kind.read(tag('back'), first, last, NOW)).toEqual(inOrder(kind, kind.times));
  });

  it(`reads a range ${kind.order}`, async () => {
    // Written out of order, in two batches.
    const shuffled = [kind.times[3], kind.times[0], kind.times[4]] as number[];
    await write(tag('order'), shuffled);
    await write(tag('order'), [kind.times[2], kind.times[1]] as number[]);
    expect(await kind.read(tag('order'), first, last, NOW)).toEqual(inOrder(kind, kind.times));
  });

  it('honours the bounds of a range', async () => {
    await write(tag('bounds'), kind.times);
    const [, second, third, fourth] = kind.times as [number, number, number, number];
    expect(await kind.read(tag('bounds'), second, fourth, NOW)).toEqual(
      inOrder(kind, [second, third, fourth]),
    );
    expect(await kind.read(tag('bounds'), third, third, NOW)).toEqual([third]);
    expect(await kind.read(tag('bounds'), first - 3 * kind.step, first - kind.step, NOW)).toEqual([]);
    expect(await kind.read(tag('bounds'), last + kind.step, last + 3 * kind.step, NOW)).toEqual([]);
  });

  it('leaves out items whose TTL has passed', async () => {
    await write(tag('ttl'), kind.times);
    const second = kind.times[1] as number;
    // Half a step after the second item expired: the first two are gone, the rest are not yet.
    const later = kind.expiresAt(second) + kind.step / 2;
    expect(await kind.read(tag('ttl'), first, last, later)).toEqual(inOrder(kind, kind.times.slice(2)));
    expect(await kind.read(tag('ttl'), first, last, kind.expiresAt(last) + kind.step)).toEqual([]);
  });
});

describe('idempotency items', () => {
  const claim = (id: string, now: number, bodyHash = 'body') =>
    claimIdempotency(tableName, id, {
      bodyHash,
      now,
      expiresAt: now + MINUTE_MS,
      abandonedBefore: now - 10 * MINUTE_MS,
    });

  it('reads back what was written', async () => {
    expect(await claim('back', NOW)).toBeUndefined();
    expect(await claim('back', NOW + 1000)).toMatchObject({
      state: 'pending',
      bodyHash: 'body',
      createdAt: NOW,
    });
    await completeIdempotency(tableName, 'back', '{"n":1}');
    expect(await claim('back', NOW + 2000)).toMatchObject({
      state: 'done',
      bodyHash: 'body',
      answer: '{"n":1}',
    });
    await releaseIdempotency(tableName, 'back');
    expect(await claim('back', NOW + 3000, 'other')).toBeUndefined();
  });

  it('leaves out items whose TTL has passed', async () => {
    expect(await claim('ttl', NOW)).toBeUndefined();
    await completeIdempotency(tableName, 'ttl', '{}');
    // Still held just before its TTL, free once it has passed.
    expect(await claim('ttl', NOW + MINUTE_MS - 1000, 'other')).toMatchObject({
      state: 'done',
      bodyHash: 'body',
    });
    expect(await claim('ttl', NOW + MINUTE_MS + 1000, 'other')).toBeUndefined();
    expect(await claim('ttl', NOW + MINUTE_MS + 2000)).toMatchObject({ state: 'pending', bodyHash: 'other' });
  });
});
