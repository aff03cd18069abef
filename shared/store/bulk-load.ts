/**
 * Seeding an empty table with trace events in bulk: the items recordEvents
 * (shared/store/events.ts) leaves once its writes have settled, written with
 * BatchWriteItem Puts instead of its claim / apply / commit / clean-up
 * protocol, about two orders of magnitude faster. For benchmarks and
 * fixtures that need a million events, never for a request path: there are
 * no claims, so nothing stops an id from being stored twice, and it must be
 * the only writer of the rollups it touches.
 *
 * What is the same: each raw event item (eventItem), the rollups each
 * "writer" (one `add` call, one token) adds to, aggregated per key on that
 * token's rollup shard by the same code (rollupDeltas), and the rollup items'
 * attributes (identity, last result, counters). A rollup item written by
 * several writers holds the sum of their deltas, as ADD leaves it. What
 * differs: no late-version marks (as if every event had been written while
 * its minute was open), no writer markers (recordEvents removes them when
 * it is done), and the last result of a rollup is its latest event's, where
 * concurrent writers leave the last writer's.
 */
import type { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { clock } from '../clock.js';
import type { TraceEvent } from '../events/model.js';
import { checkStorable } from '../events/storable.js';
import { TABLE } from '../schema.js';
import { batchPut } from './batch-write.js';
import { eventItem, type RecordOptions, ROLLUP_KINDS, type RollupDelta, rollupDeltas } from './events.js';
import { ROLLUP_LAST } from './item-layout.js';
import { eventKey, rollupShard } from './keys.js';

export interface BulkLoadCounts {
  /** Raw events written. */
  events: number;
  /** Events refused by the write path's checks (checkStorable), or repeated ids: not written. */
  skipped: number;
  /** Rollup items written (by finish). */
  rollupItems: number;
  /** BatchWriteItem requests sent. */
  writeRequests: number;
}

/** Requests in flight at once while writing the rollup items. */
const PARALLEL = 8;

export class BulkLoad {
  readonly counts: BulkLoadCounts = { events: 0, skipped: 0, rollupItems: 0, writeRequests: 0 };
  /** Every rollup item so far, by key: the sum of the deltas of the writers that touched it. */
  private readonly rollups = new Map<string, RollupDelta>();
  private readonly ids = new Set<string>();
  private finished = false;

  constructor(private readonly options: RecordOptions) {}

  private readonly send = (command: BatchWriteCommand) => {
    this.counts.writeRequests++;
    return dynamoClient().send(command);
  };

  /**
   * Writes the events of one writer (a recordEvents call whose token is
   * `token`) and adds their rollup deltas, on that token's shard, to the
   * rollup items written by `finish`. Calls may run concurrently. Returns the events written.
   */
  async add(events: readonly TraceEvent[], token: string): Promise<number> {
    if (this.finished) throw new Error('BulkLoad.add after finish');
    const now = this.options.now ?? clock.now();
    const { storable } = checkStorable(events, { now, retentionDays: this.options.retentionDays });
    const unique: TraceEvent[] = [];
    for (const { event } of storable) {
      const key = eventKey(event.ts, event.id);
      const id = `${key.pk}|${key.sk}`;
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      unique.push(event);
    }
    this.counts.skipped += events.length - unique.length;
    const deltas = rollupDeltas(
      unique.map((event) => ({ event, resolutions: ROLLUP_KINDS })),
      this.options,
      rollupShard(token),
    );
    for (const delta of deltas) this.merge(delta);
    await batchPut(
      this.options.tableName,
      unique.map((event) => eventItem(event, this.options.retentionDays)),
      this.send,
    );
    this.counts.events += unique.length;
    return unique.length;
  }

  /** Writes the rollup items (once every `add` has returned). */
  async finish(): Promise<BulkLoadCounts> {
    this.finished = true;
    const items = [...this.rollups.values()].map((delta) => ({
      [TABLE.partitionKey]: delta.pk,
      [TABLE.sortKey]: delta.sk,
      ...delta.identity,
      ...delta.last,
      ...Object.fromEntries(delta.counters),
    }));
    const chunk = Math.ceil(items.length / PARALLEL);
    await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        batchPut(this.options.tableName, items.slice(i * chunk, (i + 1) * chunk), this.send),
      ),
    );
    this.counts.rollupItems = items.length;
    this.rollups.clear();
    return this.counts;
  }

  /** Adds one writer's delta to the item it updates, as its ADD would. */
  private merge(delta: RollupDelta): void {
    const id = `${delta.pk}|${delta.sk}`;
    const known = this.rollups.get(id);
    if (!known) {
      this.rollups.set(id, delta);
      return;
    }
    for (const [name, value] of delta.counters)
      known.counters.set(name, (known.counters.get(name) ?? 0) + value);
    const lastTs = (d: RollupDelta) =>
      (d.last[ROLLUP_LAST.ts] as number | undefined) ?? Number.NEGATIVE_INFINITY;
    if (lastTs(delta) >= lastTs(known)) known.last = delta.last;
  }
}
