/**
 * Store faults on demand, and the check that rollups count exactly the stored
 * events. Used by the write-path tests and by bench/fault-ingest.ts.
 *
 * A fault is injected into the SDK client itself (a middleware on the one
 * DynamoDB client), so the code under test runs unchanged against the real
 * local store; only chosen write requests fail.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../shared/aws.js';
import { histogramFromItem } from '../shared/stats/histogram.js';
import { PENDING } from '../shared/store/item-layout.js';
import { endpointMinuteKey, eventKey, rollupKey } from '../shared/store/keys.js';

const WRITES = /^(Put|Update|Delete|BatchWrite)/;

export type FaultMode =
  /** The write never reaches the store (refused connection, throttling that outlasts the retries). */
  | 'lost-request'
  /** The write is applied but its answer is lost (timeout after the store acted). */
  | 'lost-answer'
  /** The process dies: this write and every later request fail, as if nothing ran after it. */
  | 'crash';

export interface FaultInjector {
  /** Write requests seen so far (counting the failed one). */
  readonly writes: number;
  /** Arms a fault at the `n`-th write from now (1 = the next one). */
  failAt(n: number, mode: FaultMode): void;
  /** True once the armed fault has fired. */
  readonly fired: boolean;
  /** Ends a crash: requests go through again (the "next process"). */
  heal(): void;
  /**
   * Stalls the `n`-th write from now (a writer paused by GC, a frozen
   * container): `reached` resolves when it is held; it is sent on `release()`.
   */
  holdAt(n: number): { reached: Promise<void>; release(): void };
  remove(): void;
}

export class InjectedFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectedFault';
  }
}

let installed = 0;

/** Installs a fault injector on the shared DynamoDB client. */
export function injectStoreFaults(): FaultInjector {
  const name = `injectFaults${installed++}`;
  let writes = 0;
  let target: { at: number; mode: FaultMode } | undefined;
  let hold: { at: number; reached: () => void; released: Promise<void> } | undefined;
  let fired = false;
  let crashed = false;
  const client = dynamoClient();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (crashed) throw new InjectedFault('store unreachable: the process crashed');
      if (!WRITES.test(String(context.commandName ?? ''))) return next(args);
      writes++;
      if (hold && writes === hold.at) {
        const { reached, released } = hold;
        hold = undefined;
        reached();
        await released;
        return next(args);
      }
      if (!target || writes !== target.at) return next(args);
      fired = true;
      const { mode } = target;
      target = undefined;
      if (mode === 'lost-answer') {
        await next(args);
        throw new InjectedFault(`write ${writes}: applied, answer lost`);
      }
      if (mode === 'crash') crashed = true;
      throw new InjectedFault(`write ${writes}: ${mode}`);
    },
    { step: 'initialize', name },
  );
  return {
    get writes() {
      return writes;
    },
    get fired() {
      return fired;
    },
    failAt(n, mode) {
      target = { at: writes + n, mode };
      fired = false;
    },
    heal() {
      crashed = false;
    },
    holdAt(n) {
      let reached = () => {};
      let release = () => {};
      const reachedPromise = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      hold = { at: writes + n, reached, released };
      return { reached: reachedPromise, release };
    },
    remove() {
      crashed = false;
      client.middlewareStack.remove(name);
    },
  };
}

/** A rollup item's label set and bucket, whatever its shard (`RM#<source>#<day>#<shard>` → `RM#<source>#<day>`). */
const labelSetId = (key: { pk: string; sk: string }) => `${key.pk.replace(/#\d+$/, '')}|${key.sk}`;

export interface Consistency {
  /** Committed (visible) events. */
  visible: number;
  /** Events still pending (claimed by a writer that has not finished). */
  pending: number;
  /** Sum of the minute rollups' counts, and of the hour rollups'. */
  minuteTotal: number;
  hourTotal: number;
  /** Rollup keys (label-set minutes and hours, endpoint minutes) whose count, ok count or histogram differ from the visible events. */
  mismatches: string[];
  /** Writer markers saying "applied" still in rollup items (left by writers that died before cleaning up). */
  markers: number;
  /** Fences against writers that were taken over (kept on purpose: shared/store/events.ts). */
  fences: number;
}

/**
 * Reads the whole table (a test table: Scan is fine here, never on a request
 * path) and compares every rollup with what the visible events add up to.
 */
export async function checkConsistency(tableName: string): Promise<Consistency> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamoClient().send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);

  const expected = new Map<string, { n: number; ok: number }>();
  let visible = 0;
  let pending = 0;
  for (const item of items) {
    const pk = String(item.pk);
    if (!pk.startsWith('EV#')) continue;
    if (item[PENDING.owner] !== undefined) {
      pending++;
      continue;
    }
    visible++;
    const event = item as unknown as Parameters<typeof rollupKey>[2] & {
      ts: number;
      ok: boolean;
      id: string;
    };
    const own = eventKey(event.ts, event.id);
    if (own.pk !== pk || own.sk !== item.sk)
      throw new Error(`event ${pk} ${item.sk} is stored under a wrong key`);
    const keys = [
      rollupKey('minute', event.ts, event, 0),
      rollupKey('hour', event.ts, event, 0),
      endpointMinuteKey(event.ts, event, 0),
    ];
    for (const key of keys) {
      const id = labelSetId(key);
      const counts = expected.get(id) ?? { n: 0, ok: 0 };
      counts.n++;
      if (event.ok) counts.ok++;
      expected.set(id, counts);
    }
  }

  const mismatches: string[] = [];
  let minuteTotal = 0;
  let hourTotal = 0;
  let markers = 0;
  let fences = 0;
  // A label set's minute (or hour) is the sum of its items on every rollup shard.
  const found = new Map<string, { n: number; ok: number; histogram: number }>();
  for (const item of items) {
    const pk = String(item.pk);
    if (!pk.startsWith('RM#') && !pk.startsWith('RH#') && !pk.startsWith('RE#')) continue;
    for (const [name, value] of Object.entries(item)) {
      if (!name.startsWith('w_')) continue;
      if (value === 'f') fences++;
      else markers++;
    }
    const n = Number(item.n ?? 0);
    if (pk.startsWith('RM#')) minuteTotal += n;
    else if (pk.startsWith('RH#')) hourTotal += n;
    const id = labelSetId({ pk, sk: String(item.sk) });
    const sum = found.get(id) ?? { n: 0, ok: 0, histogram: 0 };
    sum.n += n;
    sum.ok += Number(item.ok ?? 0);
    sum.histogram += histogramFromItem(item).count;
    found.set(id, sum);
  }
  for (const [id, { n, ok, histogram }] of found) {
    const want = expected.get(id) ?? { n: 0, ok: 0 };
    if (n !== want.n || ok !== want.ok || histogram !== want.n) {
      mismatches.push(`${id}: n=${n} ok=${ok} histogram=${histogram}, events: n=${want.n} ok=${want.ok}`);
    }
  }
  for (const [id, want] of expected) {
    if (!found.has(id)) mismatches.push(`${id}: no rollup, events: n=${want.n}`);
  }
  return { visible, pending, minuteTotal, hourTotal, mismatches, markers, fences };
}

/** One DynamoDB call as traced: its command and when it started and ended, in the order of the trace's events. */
export interface TracedCall {
  command: string;
  /** What the command was sent with (its expressions, keys and values). */
  input: Record<string, unknown>;
  /** Position of its start and of its end among the trace's events (a logical clock, not time). */
  started: number;
  ended: number | undefined;
}

export interface StoreCallTrace {
  readonly calls: readonly TracedCall[];
  /**
   * Rounds of calls: a call is in round 1 when no traced call ended before it
   * started, else one round after the latest round that ended before it. So
   * calls sent together are one round, and a call that waited for an answer
   * (or for a free slot) is a round later, however long each call took.
   */
  rounds(): number;
  clear(): void;
  remove(): void;
}

/** Traces every call of the shared DynamoDB client (a middleware, as the faults are injected). */
export function traceStoreCalls(): StoreCallTrace {
  const name = `traceCalls${installed++}`;
  let events = 0;
  let calls: TracedCall[] = [];
  const client = dynamoClient();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call: TracedCall = {
        command: String(context.commandName ?? ''),
        input: args.input as Record<string, unknown>,
        started: events++,
        ended: undefined,
      };
      calls.push(call);
      try {
        return await next(args);
      } finally {
        call.ended = events++;
      }
    },
    { step: 'initialize', name, priority: 'high' },
  );
  return {
    get calls() {
      return calls;
    },
    rounds() {
      return callRounds(calls);
    },
    clear() {
      calls = [];
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}

/** The round count of calls traced by traceStoreCalls (see StoreCallTrace.rounds). */
export function callRounds(calls: readonly TracedCall[]): number {
  const byStart = [...calls].sort((a, b) => a.started - b.started);
  const round = new Map<TracedCall, number>();
  let most = 0;
  for (const call of byStart) {
    let r = 1;
    for (const earlier of byStart) {
      if (earlier === call || earlier.ended === undefined || earlier.ended > call.started) continue;
      r = Math.max(r, (round.get(earlier) ?? 0) + 1);
    }
    round.set(call, r);
    most = Math.max(most, r);
  }
  return most;
}
