/**
 * The one write path for trace events (probes, `/ingest/trace`, OTLP): the
 * raw event (with its TTL) and the per-minute and per-hour rollups it adds to.
 *
 * The guarantee: once no write is in progress, the rollups count exactly the
 * stored, visible events, each id once, whatever failed, crashed or was sent
 * twice, concurrently or not. DynamoDB offers atomicity only within one item
 * (and dynalite has no transactions), so the protocol makes every step
 * either idempotent or decidable afterwards from one item:
 *
 * 1. Check: every event passes `checkStorable` first, so no write can fail
 *    because of what an item holds; unfit items are refused one by one.
 * 2. Claim: a conditional Put of each event with a pending mark (the writer's
 *    random token and the claim time). Only one writer can claim an id: a
 *    second delivery, even concurrent and under another idempotency key, finds
 *    it and counts nothing. Pending events are hidden from `/traces`.
 * 3. Apply: one UpdateItem per rollup key, `ADD` of the aggregated deltas plus
 *    a marker `w_<token>` in the same item, conditional on the marker being
 *    absent. A writer's rollup keys are all on the rollup shard of its token
 *    (shared/store/keys.ts; its endpoint minutes on a key picked from that
 *    shard and the endpoint), so concurrent writers spread over the shards and
 *    an adopter finds a dead writer's items from the token on its events. The marker makes "was this writer's delta applied here?" a fact
 *    that can be read later from that one item.
 * 4. Commit: the pending marks are removed (the events become visible).
 * 5. Clean up: the markers are removed from the rollup items.
 *
 * If a step fails, the writer undoes what it can (each applied delta is
 * subtracted again, atomically with removing its marker; its claims are
 * deleted) and answers an error: nothing visible changed. If it crashed or
 * could not undo, its events stay pending; once the claim is older than
 * `WRITE_LEASE_MS` (longer than any writer runs), the next delivery of any of
 * those events adopts them: for each rollup item it "fences" the dead
 * writer's marker (sets it if absent, so the dead writer can no longer apply
 * there; confirms it if present, so it can no longer be undone) and adds the
 * events only where the dead writer's delta is not in. A retry therefore
 * completes the work exactly once. Fences are never removed: should the
 * "dead" writer only have been stalled, its late updates keep failing there.
 */
import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { clock } from '../clock.js';
import type { TraceEvent } from '../events/model.js';
import { checkStorable, type Refusal } from '../events/storable.js';
import { logger } from '../logger.js';
import { TABLE } from '../schema.js';
import { bucketAttribute, bucketIndex } from '../stats/histogram.js';
import { batchPut } from './batch-write.js';
import {
  PENDING,
  PHASES,
  type Phase,
  ROLLUP_COUNTERS,
  ROLLUP_LAST,
  statusClass,
  WRITE_LEASE_MS,
} from './item-layout.js';
import {
  DAY_MS,
  endpointMinuteKey,
  eventKey,
  floorTo,
  HOUR_MS,
  lateVersionAttribute,
  lateVersionsKey,
  MINUTE_MS,
  type Resolution,
  rollupKey,
  rollupShard,
} from './keys.js';

export interface RecordOptions {
  tableName: string;
  retentionDays: number;
  rollupRetentionDays: number;
  /** The time events are checked against (retention, future skew) and claims are dated with. */
  now?: number;
}

export interface RecordResult {
  /** Events written and counted by this call. */
  stored: number;
  /** Events already stored (retried deliveries, or repeated within the batch): not counted again. */
  duplicates: number;
  /** Events that cannot be stored, by their index in the batch given. */
  refused: Refusal[];
  /** DynamoDB write requests made. */
  writeRequests: number;
}

/**
 * Some events are being written by another request that is still running
 * (its claim is younger than the lease). Everything else of the batch was
 * stored; retrying later finds them stored, or adopts them if that request died.
 */
export class EventsInFlight extends Error {
  constructor(
    readonly count: number,
    readonly partial: RecordResult,
  ) {
    super(`${count} events are being stored by another request`);
    this.name = 'EventsInFlight';
  }
}

/** A writer lost its claim: another writer fenced it out after its lease ran out. */
class FencedOut extends Error {}

/** `w_<token>` in a rollup item: has that writer's delta been applied here? */
const MARKER_PREFIX = 'w_';
const MARK = {
  /** Applied by its writer, which may still undo it. */
  applied: 'a',
  /** Applied, and confirmed by an adopter: can no longer be undone. */
  confirmed: 'A',
  /** Not applied, and never will be: its writer is fenced out here. */
  fenced: 'f',
} as const;

/**
 * The rollups an event is added to: its label set's minute and hour, and its
 * endpoint's minute (every model and region: what a read of the minutes not
 * compacted yet needs when it groups by endpoint only).
 */
export type RollupKind = Resolution | 'endpoint';
export const ROLLUP_KINDS: readonly RollupKind[] = ['minute', 'hour', 'endpoint'];

/** The item of rollup `kind` an event adds to, on `shard`. */
function rollupKindKey(kind: RollupKind, event: TraceEvent, shard: number): { pk: string; sk: string } {
  return kind === 'endpoint'
    ? endpointMinuteKey(event.ts, event, shard)
    : rollupKey(kind, event.ts, event, shard);
}

/** Adds one event's contribution to a delta's counters. */
function addEvent(counters: Map<string, number>, event: TraceEvent): void {
  const add = (name: string, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    counters.set(name, (counters.get(name) ?? 0) + value);
  };
  const c = ROLLUP_COUNTERS;
  add(c.count, 1);
  if (event.ok) add(c.ok, 1);
  if (event.upstream === 'simulated') add(c.simulated, 1);
  add(c.latencySum, event.latencyMs);
  if (event.errorType) add(`${c.errorPrefix}${event.errorType}`, 1);
  add(`${c.statusPrefix}${statusClass(event.status)}`, 1);
  if (event.usage) {
    add(c.usageCount, 1);
    add(c.inputTokens, event.usage.input);
    add(c.outputTokens, event.usage.output);
    add(c.cachedTokens, event.usage.cached);
    add(c.reasoningTokens, event.usage.reasoning);
  }
  add(c.bytes, event.responseBytes);
  if (event.costUsd !== undefined) {
    add(c.cost, event.costUsd);
    add(c.costCount, 1);
  }
  const timing = event.timing ?? {};
  const phaseValues: Record<Phase, number | undefined> = {
    dns: timing.dnsMs,
    connect: timing.connectMs,
    tls: timing.tlsMs,
    ttfb: timing.ttfbMs,
    transfer: timing.transferMs,
    ttft: timing.ttftMs,
  };
  for (const phase of PHASES) {
    const value = phaseValues[phase];
    if (value === undefined) continue;
    add(`${c.phasePrefix}${phase}`, value);
    add(`${c.phasePrefix}${phase}_n`, 1);
  }
  if (timing.reused) add(c.reused, 1);
  add(bucketAttribute(bucketIndex(event.latencyMs)), 1);
}

export interface RollupDelta {
  pk: string;
  sk: string;
  /** Attributes that name the item; the same for every writer. */
  identity: Record<string, string | number>;
  /** The latest result among the delta's events. */
  last: Record<string, string | number | boolean>;
  counters: Map<string, number>;
}

/** An event and the rollups it still has to be added to. */
interface Contribution {
  event: TraceEvent;
  resolutions: readonly RollupKind[];
}

/**
 * The rollup updates a set of events makes on one rollup shard (the writer's:
 * rollupShard), aggregated per rollup key: a batch of events costs one update
 * per distinct key, not one per event.
 */
export function rollupDeltas(
  contributions: readonly Contribution[],
  options: RecordOptions,
  shard: number,
): RollupDelta[] {
  const deltas = new Map<string, RollupDelta>();
  const keep: Record<RollupKind, [number, number]> = {
    minute: [MINUTE_MS, options.retentionDays * DAY_MS],
    hour: [HOUR_MS, options.rollupRetentionDays * DAY_MS],
    endpoint: [MINUTE_MS, options.retentionDays * DAY_MS],
  };
  for (const { event, resolutions } of contributions) {
    for (const kind of resolutions) {
      const [step, keepMs] = keep[kind];
      const key = rollupKindKey(kind, event, shard);
      const id = `${key.pk}|${key.sk}`;
      let delta = deltas.get(id);
      if (!delta) {
        const bucketStart = floorTo(event.ts, step);
        delta = {
          ...key,
          identity: {
            resolution: kind === 'hour' ? 'hour' : 'minute',
            bucketStart,
            source: event.source,
            endpoint: event.endpoint,
            // An endpoint minute holds every model and region, as a compact period's view `E` does.
            model: kind === 'endpoint' ? '' : (event.model ?? ''),
            region: kind === 'endpoint' ? '' : (event.region ?? ''),
            [TABLE.ttlAttribute]: Math.ceil((bucketStart + step + keepMs) / 1000),
          },
          last: {},
          counters: new Map(),
        };
        deltas.set(id, delta);
      }
      addEvent(delta.counters, event);
      // The latest event wins, within one batch here and across concurrent writers in deltaUpdate.
      if (event.ts >= ((delta.last[ROLLUP_LAST.ts] as number | undefined) ?? Number.NEGATIVE_INFINITY)) {
        delta.last = {
          [ROLLUP_LAST.ts]: event.ts,
          [ROLLUP_LAST.ok]: event.ok,
          [ROLLUP_LAST.status]: event.status ?? 0,
          [ROLLUP_LAST.errorType]: event.errorType ?? '',
        };
      }
    }
  }
  return [...deltas.values()];
}

/** The stored item of an event (committed: without the pending attributes). */
export function eventItem(event: TraceEvent, retentionDays: number): Record<string, unknown> {
  const key = eventKey(event.ts, event.id);
  return {
    [TABLE.partitionKey]: key.pk,
    [TABLE.sortKey]: key.sk,
    ...event,
    [TABLE.ttlAttribute]: Math.ceil((event.ts + retentionDays * DAY_MS) / 1000),
  };
}

/**
 * Stores events and their rollups through the protocol above. Safe to call
 * again with the same events, concurrently, and after any failure: each id is
 * stored once and counted once.
 *
 * Two rounds, each by a writer of its own: first the events nobody stored
 * yet (claimed, counted, committed), then, only if some were found stored,
 * those left pending by a writer that is gone (adopted). A writer never
 * waits for others while it holds uncommitted claims, so concurrent
 * deliveries of the same items cannot hold each other up.
 *
 * Throws the store's error when the first round fails (after undoing it:
 * nothing visible changed), and `EventsInFlight` when some events are held by
 * another running request, or could not be adopted, while the rest are stored.
 */
export async function recordEvents(
  events: readonly TraceEvent[],
  options: RecordOptions,
): Promise<RecordResult> {
  const now = options.now ?? clock.now();
  const { storable, refused } = checkStorable(events, { now, retentionDays: options.retentionDays });
  // The first copy of an id in the batch is the one stored: events are immutable once stored.
  const unique = new Map<string, TraceEvent>();
  for (const { event } of storable) {
    const id = keyId(eventKey(event.ts, event.id));
    if (!unique.has(id)) unique.set(id, event);
  }
  const result: RecordResult = {
    stored: 0,
    duplicates: storable.length - unique.size,
    refused,
    writeRequests: 0,
  };
  // Usually one writer; more only where one writer's rollup update would pass DynamoDB's expression limit.
  const existing: TraceEvent[] = [];
  let busy = await writeParts(
    writerParts([...unique.values()], (event) => event, options),
    result,
    () => new Writer(options, now),
    async (writer, part) => {
      existing.push(...(await writer.claimAndCount(part)));
      return 0;
    },
  );
  if (existing.length === 0) {
    if (busy > 0) throw new EventsInFlight(busy, result);
    return result;
  }

  const found = await inspectUntilSettled(
    options.tableName,
    existing.map((e) => eventKey(e.ts, e.id)),
    now,
  );
  result.duplicates += found.committed;
  busy += found.busy.length;
  const eventOf = new Map(existing.map((e) => [keyId(eventKey(e.ts, e.id)), e]));
  busy += await writeParts(
    writerParts(found.abandoned, (state) => eventOf.get(keyId(state.key)), options),
    result,
    () => new Writer(options, now),
    (adopter, part) => adopter.adoptAndCount(part, existing),
  );
  if (busy > 0) throw new EventsInFlight(busy, result);
  return result;
}

/**
 * Runs `write` with a new writer for each part, adding what it stored and sent to `result`. Returns
 * the items not done: those `write` reports held elsewhere, and those of a part that failed once
 * earlier events were stored (not done yet rather than a failed request). A failure before anything
 * was stored is thrown.
 */
async function writeParts<T>(
  parts: T[][],
  result: RecordResult,
  newWriter: () => Writer,
  write: (writer: Writer, part: T[]) => Promise<number>,
): Promise<number> {
  let busy = 0;
  for (const part of parts) {
    const writer = newWriter();
    try {
      busy += await write(writer, part);
      result.stored += writer.counted;
    } catch (error) {
      if (result.stored === 0) throw error;
      logger.warn('writing part of the events failed', { error: error as Error });
      busy += part.length;
    }
    result.writeRequests += writer.writeRequests;
  }
  return busy;
}

/** DynamoDB's limit on one expression string, in bytes (the update expressions here are ASCII). */
export const EXPRESSION_LIMIT_BYTES = 4096;

/**
 * `items` in parts that one writer each can record: the rollup updates of a part's events stay within
 * EXPRESSION_LIMIT_BYTES. One part unless a rollup item would get hundreds of latency buckets from one
 * request (up to 1,000 calls of one label set and minute, each latency its own bucket); then halves,
 * until every part fits. A part is its own writer, so the write protocol is the same for each.
 */
function writerParts<T>(
  items: readonly T[],
  eventOf: (item: T) => TraceEvent | undefined,
  options: RecordOptions,
): T[][] {
  if (items.length === 0) return [];
  if (items.length <= ALWAYS_FITS) return [[...items]];
  const contributions = items.flatMap((item) => {
    const event = eventOf(item);
    return event ? [{ event, resolutions: ROLLUP_KINDS }] : [];
  });
  const fits = rollupDeltas(contributions, options, 0).every(
    (delta) => updateExpressionBytes(options.tableName, delta) <= EXPRESSION_LIMIT_BYTES,
  );
  if (fits || items.length === 1) return [[...items]];
  const half = Math.ceil(items.length / 2);
  return [
    ...writerParts(items.slice(0, half), eventOf, options),
    ...writerParts(items.slice(half), eventOf, options),
  ];
}

/**
 * Events that fit one writer whatever they are: a delta adds at most one latency bucket per event to
 * its fixed counters (checked at this size with every event in its own bucket, error type and status
 * class: events.test.ts). Requests up to this size, most of them, skip building their updates twice.
 */
export const ALWAYS_FITS = 200;

/** The length of the update expression that applies `delta` (the longer of its two forms). */
export function updateExpressionBytes(tableName: string, delta: RollupDelta): number {
  return (deltaUpdate(tableName, delta, MARKER_PREFIX, 'when-newer').input.UpdateExpression ?? '').length;
}

interface Key {
  pk: string;
  sk: string;
}
const keyId = (key: Key) => `${key.pk}|${key.sk}`;
const dynamoKey = (key: Key) => ({ [TABLE.partitionKey]: key.pk, [TABLE.sortKey]: key.sk });
const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/**
 * Runs `work` over `items`, at most `limit` at a time. After a failure no new
 * item starts, and it throws only once the running ones have settled: an
 * undo must see every write that went through.
 */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      try {
        await work(items[next++] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** Requests in flight at once per step: enough to hide latency, few enough not to throttle a partition. */
const PARALLEL = 16;
const BATCH_GET_MAX = 100;
const MAX_ATTEMPTS = 8;
/** How often, and how long apart, events held by another running request are looked at again. */
const BUSY_RECHECKS = [50, 150, 400];

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PendingState {
  key: Key;
  /** The writer holding it, if pending. */
  owner?: string;
  since?: number;
  counted: RollupKind[];
}

/** The pending state of stored events (consistent reads of the key and pending attributes only); absent ones are left out. */
async function inspect(tableName: string, keys: readonly Key[]): Promise<PendingState[]> {
  const states: PendingState[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
    let request: Record<string, unknown>[] | undefined = keys.slice(i, i + BATCH_GET_MAX).map(dynamoKey);
    for (let attempt = 0; request?.length; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
      const answer: {
        Responses?: Record<string, Record<string, unknown>[]>;
        UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
      } = await dynamoClient().send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: request,
              ConsistentRead: true,
              ProjectionExpression: '#pk, #sk, #owner, #since, #counted',
              ExpressionAttributeNames: {
                '#pk': TABLE.partitionKey,
                '#sk': TABLE.sortKey,
                '#owner': PENDING.owner,
                '#since': PENDING.since,
                '#counted': PENDING.counted,
              },
            },
          },
        }),
      );
      for (const item of answer.Responses?.[tableName] ?? []) {
        const owner = item[PENDING.owner];
        states.push({
          key: { pk: item[TABLE.partitionKey] as string, sk: item[TABLE.sortKey] as string },
          ...(typeof owner === 'string' ? { owner, since: Number(item[PENDING.since] ?? 0) } : {}),
          counted: (item[PENDING.counted] as RollupKind[] | undefined) ?? [],
        });
      }
      request = answer.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return states;
}

/**
 * Sorts stored events into committed, abandoned (claim older than the lease)
 * and busy (another running request holds them). A busy event usually
 * belongs to a concurrent delivery of the same item that is about to
 * commit: it is looked at again a few times before giving up.
 */
async function inspectUntilSettled(
  tableName: string,
  keys: Key[],
  now: number,
): Promise<{ committed: number; abandoned: PendingState[]; busy: Key[] }> {
  let committed = 0;
  const abandoned: PendingState[] = [];
  let pending = keys;
  for (let round = 0; ; round++) {
    const busy: Key[] = [];
    const states = await inspect(tableName, pending);
    // Not found: deleted meanwhile by a failed writer undoing its claim. Look again later.
    const seen = new Set(states.map((s) => keyId(s.key)));
    for (const key of pending) if (!seen.has(keyId(key))) busy.push(key);
    for (const state of states) {
      if (state.owner === undefined) committed++;
      else if ((state.since ?? 0) + WRITE_LEASE_MS <= now) abandoned.push(state);
      else busy.push(state.key);
    }
    if (busy.length === 0 || round >= BUSY_RECHECKS.length) return { committed, abandoned, busy };
    await pause(BUSY_RECHECKS[round] as number);
    pending = busy;
  }
}

/** One round of writes under one token: what it claimed, adopted and applied, so that it can undo them. */
class Writer {
  readonly token = randomBytes(6).toString('hex');
  /** The rollup shard every update of this writer goes to (an adopter finds it again from the token). */
  private readonly shard = rollupShard(this.token);
  writeRequests = 0;
  /** Events this writer counted and committed. */
  counted = 0;
  private readonly marker = `${MARKER_PREFIX}${this.token}`;
  /** Every event whose claim (or adoption) was sent, with what it adds: an undo looks at all of them. */
  private readonly contributions: Contribution[] = [];
  private readonly claimed: TraceEvent[] = [];
  private readonly adopted: Key[] = [];
  /** Every delta whose update was sent (its answer may have been lost). */
  private readonly attempted: RollupDelta[] = [];
  /** Other writers' markers this writer confirmed: cleaned up with its own. */
  private readonly foreignMarkers = new Map<string, Set<string>>();

  constructor(
    private readonly options: RecordOptions,
    private readonly now: number,
  ) {}

  private get table() {
    return this.options.tableName;
  }

  private async send<T = unknown>(
    command: PutCommand | UpdateCommand | DeleteCommand | BatchWriteCommand,
  ): Promise<T> {
    this.writeRequests++;
    // One entry point for every write of the protocol, so each is counted; the cast only picks an overload.
    return (await dynamoClient().send(command as PutCommand)) as T;
  }

  /** Claims, counts and commits the events nobody stored yet. Returns those already stored. */
  async claimAndCount(events: readonly TraceEvent[]): Promise<TraceEvent[]> {
    let existing: TraceEvent[] = [];
    await this.undoing(async () => {
      existing = await this.claim(events);
      await this.apply();
    });
    await this.undoing(() => this.commitOrRetry());
    await this.cleanUp();
    return existing;
  }

  /** Adopts events whose writer is gone, counts what that writer did not, commits. Returns those lost to another adopter. */
  async adoptAndCount(states: readonly PendingState[], events: readonly TraceEvent[]): Promise<number> {
    let lost = 0;
    await this.undoing(async () => {
      lost = await this.adopt(states, events);
      await this.apply();
    });
    await this.undoing(() => this.commitOrRetry());
    await this.cleanUp();
    return lost;
  }

  private async undoing(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await this.undo(error);
      throw error;
    }
  }

  /** Step 2: conditional Puts. Returns the events that already existed. */
  private async claim(events: readonly TraceEvent[]): Promise<TraceEvent[]> {
    const existing: TraceEvent[] = [];
    await eachLimited(events, PARALLEL, async (event) => {
      // Recorded before the Put is sent: if its answer is lost, the undo still looks for it.
      const contribution = { event, resolutions: ROLLUP_KINDS };
      this.contributions.push(contribution);
      try {
        await this.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...eventItem(event, this.options.retentionDays),
              [PENDING.owner]: this.token,
              [PENDING.since]: this.now,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
          }),
        );
        this.claimed.push(event);
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        this.contributions.splice(this.contributions.indexOf(contribution), 1);
        existing.push(event);
      }
    });
    return existing;
  }

  /**
   * Takes over events whose writer is gone. For each rollup item they touch,
   * the old writer's marker is fenced (or confirmed, when its delta is in),
   * and each event then carries the resolutions already counted.
   */
  private async adopt(states: readonly PendingState[], events: readonly TraceEvent[]): Promise<number> {
    let lost = 0;
    const byKey = new Map(events.map((e) => [keyId(eventKey(e.ts, e.id)), e]));
    // Fence once per (old writer, rollup key).
    const fences = new Map<string, Promise<boolean>>();
    const fence = (owner: string, delta: RollupDelta) => {
      const id = `${owner}|${keyId(delta)}`;
      let result = fences.get(id);
      if (!result) {
        result = this.fence(owner, delta);
        fences.set(id, result);
      }
      return result;
    };
    for (const state of states) {
      const event = byKey.get(keyId(state.key)) as TraceEvent;
      const owner = state.owner as string;
      const counted = new Set(state.counted);
      for (const resolution of ROLLUP_KINDS) {
        if (counted.has(resolution)) continue;
        // The dead writer's delta, if applied, is on its own shard.
        const [delta] = rollupDeltas(
          [{ event, resolutions: [resolution] }],
          this.options,
          rollupShard(owner),
        );
        if (await fence(owner, delta as RollupDelta)) counted.add(resolution);
      }
      const contribution = { event, resolutions: ROLLUP_KINDS.filter((r) => !counted.has(r)) };
      this.contributions.push(contribution);
      try {
        await this.send(
          new UpdateCommand({
            TableName: this.table,
            Key: dynamoKey(state.key),
            UpdateExpression: 'SET #owner = :me, #since = :now, #counted = :counted',
            ConditionExpression: '#owner = :old',
            ExpressionAttributeNames: {
              '#owner': PENDING.owner,
              '#since': PENDING.since,
              '#counted': PENDING.counted,
            },
            ExpressionAttributeValues: {
              ':me': this.token,
              ':now': this.now,
              ':counted': [...counted],
              ':old': owner,
            },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Another delivery adopted it first.
        this.contributions.pop();
        lost++;
        continue;
      }
      this.adopted.push(state.key);
    }
    return lost;
  }

  /** Whether `owner`'s delta is in the rollup item; if it is not, makes sure it never will be. */
  private async fence(owner: string, delta: RollupDelta): Promise<boolean> {
    const marker = `${MARKER_PREFIX}${owner}`;
    const names: Record<string, string> = { '#m': marker };
    const values: Record<string, unknown> = { ':fenced': MARK.fenced };
    // A fence may create the item: give it its identity, as a delta would.
    const sets = Object.entries(delta.identity).map(([name, value], i) => {
      names[`#k${i}`] = name;
      values[`:k${i}`] = value;
      return `#k${i} = if_not_exists(#k${i}, :k${i})`;
    });
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamoKey(delta),
          UpdateExpression: `SET #m = :fenced, ${sets.join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#m)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return false;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamoKey(delta),
          UpdateExpression: 'SET #m = :confirmed',
          ConditionExpression: '#m IN (:applied, :confirmed)',
          ExpressionAttributeNames: { '#m': marker },
          ExpressionAttributeValues: { ':applied': MARK.applied, ':confirmed': MARK.confirmed },
        }),
      );
      // A confirmed marker has done its work and can go. A fence stays: should the fenced
      // writer still be alive after all (stalled past its lease), it must keep failing here.
      const id = keyId(delta);
      this.foreignMarkers.set(id, (this.foreignMarkers.get(id) ?? new Set()).add(marker));
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false; // already fenced by an earlier adopter
    }
  }

  /** Step 3: one conditional UpdateItem per rollup key, a handful at a time. */
  private async apply(): Promise<void> {
    await eachLimited(rollupDeltas(this.contributions, this.options, this.shard), PARALLEL, async (delta) => {
      this.attempted.push(delta);
      try {
        await this.send(deltaUpdate(this.table, delta, this.marker, 'when-newer'));
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      // Refused: either the item's last result is newer than this delta's (a concurrent writer of later
      // events got there first), or this writer is fenced out. The counters go in alone, on the marker's
      // condition only, so the last result never goes back in time.
      try {
        await this.send(deltaUpdate(this.table, delta, this.marker, 'counters-only'));
      } catch (error) {
        if (isConditionFailure(error)) throw new FencedOut(`writer ${this.token} was fenced out`);
        throw error;
      }
    });
    await this.markLateWrites();
  }

  /**
   * After changing minute rollups of minutes that had ended when this writer
   * started (a late trace, a retry, an adoption, an undo): raises their late
   * versions, so a compaction built before the change is no longer used
   * (shared/store/compaction.ts). One update per source and day; minutes
   * still open when the writer started need none, since compaction waits
   * longer than a writer runs.
   */
  private async markLateWrites(): Promise<void> {
    const byDay = new Map<string, { key: Key; names: Set<string> }>();
    for (const delta of this.attempted) {
      const { resolution, bucketStart, source } = delta.identity;
      if (resolution !== 'minute' || (bucketStart as number) + MINUTE_MS > this.now) continue;
      const key = lateVersionsKey(source as TraceEvent['source'], bucketStart as number, this.shard);
      const day = byDay.get(keyId(key)) ?? { key, names: new Set<string>() };
      day.names.add(lateVersionAttribute(bucketStart as number));
      byDay.set(keyId(key), day);
    }
    await eachLimited([...byDay.values()], PARALLEL, async ({ key, names }) => {
      const list = [...names];
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamoKey(key),
          UpdateExpression: `ADD ${list.map((_, i) => `#v${i} :one`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(list.map((name, i) => [`#v${i}`, name])),
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    });
  }

  /**
   * Step 4, with one second chance: a failed commit may have gone through
   * (its answer lost) or gone through in part. What is still pending is read
   * back and committed again; only if that fails too is the write undone.
   */
  private async commitOrRetry(): Promise<void> {
    try {
      await this.commit();
    } catch (error) {
      logger.warn('event commit failed; checking what went through', { error: error as Error });
      const states = await inspect(this.table, [
        ...this.claimed.map((e) => eventKey(e.ts, e.id)),
        ...this.adopted,
      ]);
      const stillMine = new Set(states.filter((s) => s.owner === this.token).map((s) => keyId(s.key)));
      const claimed = this.claimed.filter((e) => stillMine.has(keyId(eventKey(e.ts, e.id))));
      const adopted = this.adopted.filter((k) => stillMine.has(keyId(k)));
      await this.commit(claimed, adopted);
    }
  }

  /** Step 4: the events become visible. Claimed ones are put again whole (25 per request). */
  private async commit(claimed = this.claimed, adopted = this.adopted): Promise<void> {
    await batchPut(
      this.table,
      claimed.map((event) => eventItem(event, this.options.retentionDays)),
      (command) => this.send(command),
    );
    await eachLimited(adopted, PARALLEL, async (key) => {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamoKey(key),
          UpdateExpression: 'REMOVE #owner, #since, #counted',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: {
            '#owner': PENDING.owner,
            '#since': PENDING.since,
            '#counted': PENDING.counted,
          },
          ExpressionAttributeValues: { ':me': this.token },
        }),
      ).catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
    });
    this.counted = this.contributions.length;
  }

  /** Step 5: markers are only needed while events are pending; a failure here only leaves a few bytes. */
  private async cleanUp(): Promise<void> {
    const markers = new Map(this.foreignMarkers);
    for (const delta of this.attempted) {
      markers.set(keyId(delta), (markers.get(keyId(delta)) ?? new Set()).add(this.marker));
    }
    await eachLimited([...markers], PARALLEL, async ([id, names]) => {
      const [pk, sk] = id.split('|') as [string, string];
      const list = [...names];
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamoKey({ pk, sk }),
          UpdateExpression: `REMOVE ${list.map((_, i) => `#m${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(list.map((name, i) => [`#m${i}`, name])),
        }),
      ).catch((error: unknown) => logger.warn('rollup marker not removed', { error: error as Error }));
    });
  }

  /**
   * After a failure: takes back out of the rollups what this writer added
   * for events that are not committed, then deletes its claims (adopted
   * events are freed for the next delivery instead). What is undone is read
   * from the table, not assumed: a write whose answer was lost may still
   * have happened. An event is released only once every rollup it was added
   * to is undone; anything left stays pending, and the next delivery adopts
   * it once the lease is over. Failures here are logged, never thrown.
   */
  private async undo(cause: unknown): Promise<void> {
    logger.warn('event write failed; undoing', { error: cause as Error, token: this.token });
    const logged = (error: unknown) => {
      if (!isConditionFailure(error)) logger.warn('undo step failed', { error: error as Error });
    };
    let states: PendingState[];
    try {
      states = await inspect(
        this.table,
        this.contributions.map(({ event }) => eventKey(event.ts, event.id)),
      );
    } catch (error) {
      logged(error);
      return;
    }
    const owners = new Map(states.map((s) => [keyId(s.key), s.owner]));
    const ownerOf = (event: TraceEvent) => owners.get(keyId(eventKey(event.ts, event.id)));
    const uncommitted = this.contributions.filter(({ event }) => ownerOf(event) === this.token);
    // Events another writer adopted (this one outlived its lease): it relies on this writer's
    // markers where they say "applied", so rollups they touch are left exactly as they are.
    const adoptedByOthers = new Set(
      rollupDeltas(
        this.contributions.filter(({ event }) => ![undefined, this.token].includes(ownerOf(event))),
        this.options,
        this.shard,
      ).map(keyId),
    );
    const toSubtract = new Map(rollupDeltas(uncommitted, this.options, this.shard).map((d) => [keyId(d), d]));
    const undone = new Set<string>();
    await eachLimited(this.attempted, PARALLEL, async (delta) => {
      const id = keyId(delta);
      if (adoptedByOthers.has(id)) return;
      try {
        await this.send(
          undoUpdate(this.table, toSubtract.get(id) ?? { ...delta, counters: new Map() }, this.marker),
        );
        undone.add(id);
      } catch (error) {
        if (!isConditionFailure(error)) return logged(error);
        // Not "applied": never applied or fenced (nothing to take back), or confirmed by an adopter (leave it).
        const { Item } = await dynamoClient().send(
          new GetCommand({
            TableName: this.table,
            Key: dynamoKey(delta),
            ConsistentRead: true,
            ProjectionExpression: '#m',
            ExpressionAttributeNames: { '#m': this.marker },
          }),
        );
        if (Item?.[this.marker] !== MARK.confirmed) undone.add(id);
      }
    }).catch(logged);
    await this.markLateWrites().catch(logged);
    const attempted = new Set(this.attempted.map(keyId));
    const released = uncommitted.filter(({ event, resolutions }) =>
      resolutions.every((r) => {
        const id = keyId(rollupKindKey(r, event, this.shard));
        return !attempted.has(id) || undone.has(id);
      }),
    );
    const adopted = new Set(this.adopted.map(keyId));
    await eachLimited(released, PARALLEL, async ({ event }) => {
      const key = eventKey(event.ts, event.id);
      const release = adopted.has(keyId(key))
        ? new UpdateCommand({
            TableName: this.table,
            Key: dynamoKey(key),
            UpdateExpression: 'SET #since = :free',
            ConditionExpression: '#owner = :me',
            ExpressionAttributeNames: { '#owner': PENDING.owner, '#since': PENDING.since },
            ExpressionAttributeValues: { ':me': this.token, ':free': 0 },
          })
        : new DeleteCommand({
            TableName: this.table,
            Key: dynamoKey(key),
            ConditionExpression: '#owner = :me',
            ExpressionAttributeNames: { '#owner': PENDING.owner },
            ExpressionAttributeValues: { ':me': this.token },
          });
      await this.send(release).catch(logged);
    });
  }
}

/**
 * The UpdateItem that applies a delta once: ADD the counters and set the writer's marker, if absent.
 * `when-newer` also sets the item's last result, on the condition that the item has none as recent:
 * concurrent writers of the same item may arrive in any order. `counters-only` leaves it.
 */
function deltaUpdate(
  tableName: string,
  delta: RollupDelta,
  marker: string,
  last: 'when-newer' | 'counters-only',
): UpdateCommand {
  const names: Record<string, string> = { '#marker': marker };
  const values: Record<string, unknown> = { ':applied': MARK.applied };
  const sets: string[] = ['#marker = :applied'];
  const adds: string[] = [];
  let i = 0;
  const setValues = last === 'when-newer' ? { ...delta.identity, ...delta.last } : delta.identity;
  // Placeholders numbered in base 36 (`#1k`): a delta may ADD hundreds of counters, and the expression
  // must stay within EXPRESSION_LIMIT_BYTES.
  for (const [name, value] of Object.entries(setValues)) {
    const id = (i++).toString(36);
    names[`#${id}`] = name;
    values[`:${id}`] = value;
    sets.push(`#${id} = :${id}`);
  }
  for (const [name, value] of delta.counters) {
    const id = (i++).toString(36);
    names[`#${id}`] = name;
    values[`:${id}`] = value;
    adds.push(`#${id} :${id}`);
  }
  let condition = 'attribute_not_exists(#marker)';
  const lastTs = delta.last[ROLLUP_LAST.ts];
  if (last === 'when-newer' && lastTs !== undefined) {
    names['#lastTs'] = ROLLUP_LAST.ts;
    values[':lastTs'] = lastTs;
    condition += ' AND (attribute_not_exists(#lastTs) OR #lastTs <= :lastTs)';
  }
  return new UpdateCommand({
    TableName: tableName,
    Key: dynamoKey(delta),
    UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/** The UpdateItem that takes a delta back out, atomically with its marker, while it is still undoable. */
function undoUpdate(tableName: string, delta: RollupDelta, marker: string): UpdateCommand {
  const names: Record<string, string> = { '#marker': marker };
  const values: Record<string, unknown> = { ':applied': MARK.applied };
  const adds: string[] = [];
  let i = 0;
  for (const [name, value] of delta.counters) {
    const id = (i++).toString(36);
    names[`#${id}`] = name;
    values[`:${id}`] = -value;
    adds.push(`#${id} :${id}`);
  }
  return new UpdateCommand({
    TableName: tableName,
    Key: dynamoKey(delta),
    UpdateExpression: `${adds.length ? `ADD ${adds.join(', ')} ` : ''}REMOVE #marker`,
    ConditionExpression: '#marker = :applied',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}
