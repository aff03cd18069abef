/**
 * The naive exact computation over the raw events (a Query per `EV#<hour>` partition, exact
 * percentiles by sorting), and the cross-check of the rollup figures against it.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../../shared/aws.js';
import type { Config } from '../../shared/config.js';
import type { ErrorType } from '../../shared/events/model.js';
import { resolveRange } from '../../shared/status/params.js';
import type { StatusAnswer } from '../../shared/status/status.js';
import {
  eventHourKey,
  eventShardPartitions,
  floorTo,
  HOUR_MS,
  MINUTE_MS,
  padTs,
} from '../../shared/store/keys.js';
import { quantileOfSorted } from '../../test/fixtures.js';
import { NOW } from './settings.js';

export interface RawEvent {
  ts: number;
  endpoint: string;
  ok: boolean;
  latencyMs: number;
  errorType?: ErrorType;
  source: string;
}

export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** Every raw event in [from, to): one Query (paged) per shard of each hour (`EV#<hour>#<ss>`), no Scan. */
export async function forEachRawEvent(
  tableName: string,
  from: number,
  to: number,
  visit: (event: RawEvent) => void,
): Promise<{ itemsRead: number; queries: number }> {
  const shards: [hour: number, pk: string][] = [];
  for (let hour = floorTo(from, HOUR_MS); hour < to; hour += HOUR_MS) {
    for (const pk of eventShardPartitions(eventHourKey(hour))) shards.push([hour, pk]);
  }
  let itemsRead = 0;
  let queries = 0;
  await pool(shards, 4, async ([hour, pk]) => {
    const low = padTs(Math.max(from, hour));
    const high = `${padTs(Math.min(to, hour + HOUR_MS) - 1)}$`; // `$` sorts after `#<id>`
    let startKey: Record<string, unknown> | undefined;
    do {
      queries++;
      const page = await dynamoClient().send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
          // Only what the figures need: the same items are read, fewer bytes travel.
          ProjectionExpression: '#ts, #ep, #ok, #lat, #err, #src',
          ExpressionAttributeNames: {
            '#pk': 'pk',
            '#sk': 'sk',
            '#ts': 'ts',
            '#ep': 'endpoint',
            '#ok': 'ok',
            '#lat': 'latencyMs',
            '#err': 'errorType',
            '#src': 'source',
          },
          ExpressionAttributeValues: { ':pk': pk, ':low': low, ':high': high },
          ExclusiveStartKey: startKey,
        }),
      );
      itemsRead += page.ScannedCount ?? page.Count ?? 0;
      for (const item of page.Items ?? []) visit(item as RawEvent);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  });
  return { itemsRead, queries };
}

export const QS = [0.5, 0.95, 0.99];

export interface Figures {
  total: number;
  ok: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export class Acc {
  latencies: number[] = [];
  ok = 0;
  excluded = 0;
  add(event: RawEvent, excludedErrors: readonly ErrorType[]) {
    this.latencies.push(event.latencyMs);
    if (event.ok) this.ok++;
    if (event.errorType && excludedErrors.includes(event.errorType)) this.excluded++;
  }
  figures(): Figures {
    const sorted = Float64Array.from(this.latencies).sort();
    const n = sorted.length;
    // Lower nearest rank, the definition the histogram uses.
    const at = (q: number) => (n === 0 ? null : quantileOfSorted(sorted, q));
    const [p50, p95, p99] = QS.map(at) as [number | null, number | null, number | null];
    return { total: n, ok: this.ok, p50, p95, p99 };
  }
}

/** The same figures as /status, exactly, from the raw events. */
export async function naiveStatus(config: Config) {
  const range = resolveRange({ window: '1440' }, config, NOW, 60);
  const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const hourFrom = currentMinuteEnd - HOUR_MS;
  const sixFrom = currentMinuteEnd - 6 * HOUR_MS;
  const excluded = config.sloExcludeErrors;
  const endpoints = new Map<string, Acc>();
  const overall = new Acc();
  const hour = new Acc();
  const six = new Acc();
  const read = await forEachRawEvent(config.tableName, range.from, range.to, (event) => {
    if (event.source !== 'probe') return;
    let acc = endpoints.get(event.endpoint);
    if (!acc) {
      acc = new Acc();
      endpoints.set(event.endpoint, acc);
    }
    acc.add(event, excluded);
    overall.add(event, excluded);
    if (event.ts >= hourFrom) hour.add(event, excluded);
    if (event.ts >= sixFrom) six.add(event, excluded);
  });
  const burn = (acc: Acc) => {
    const valid = acc.latencies.length - acc.excluded;
    return valid > 0 ? (1 - acc.ok / valid) / (1 - config.sloTarget / 100) : null;
  };
  return {
    ...read,
    endpoints: new Map([...endpoints].map(([k, acc]) => [k, acc.figures()])),
    overall: overall.figures(),
    burn1h: burn(hour),
    burn6h: burn(six),
  };
}

/** The same buckets as /timeseries, exactly, from the raw events. */
export async function naiveTimeseries(config: Config, from: number, to: number, bucketMs: number) {
  const buckets: Acc[] = Array.from({ length: Math.ceil((to - from) / bucketMs) }, () => new Acc());
  const read = await forEachRawEvent(config.tableName, from, to, (event) => {
    if (event.source !== 'probe') return;
    buckets[Math.floor((event.ts - from) / bucketMs)]?.add(event, []);
  });
  return { ...read, points: buckets.map((b) => b.figures()) };
}

// ---------------------------------------------------------------- cross-check

export class Check {
  countMismatches: string[] = [];
  countsCompared = 0;
  maxRelError = 0;
  worst = '';
  percentilesCompared = 0;
  counts(label: string, rollup: number, exact: number) {
    this.countsCompared++;
    if (rollup !== exact) this.countMismatches.push(`${label}: rollup ${rollup} vs exact ${exact}`);
  }
  percentile(label: string, rollup: number | null, exact: number | null) {
    this.percentilesCompared++;
    if (rollup === null || exact === null) {
      if (rollup !== exact) this.countMismatches.push(`${label}: rollup ${rollup} vs exact ${exact}`);
      return;
    }
    const error = exact === 0 ? Math.abs(rollup) : Math.abs(rollup - exact) / exact;
    if (error > this.maxRelError) {
      this.maxRelError = error;
      this.worst = `${label} rollup ${rollup} vs exact ${exact}`;
    }
  }
  figures(label: string, rollup: Figures, exact: Figures) {
    this.counts(`${label} total`, rollup.total, exact.total);
    this.counts(`${label} ok`, rollup.ok, exact.ok);
    this.percentile(`${label} p50`, rollup.p50, exact.p50);
    this.percentile(`${label} p95`, rollup.p95, exact.p95);
    this.percentile(`${label} p99`, rollup.p99, exact.p99);
  }
}

export const statusFigures = (s: StatusAnswer['overall']): Figures => ({
  total: s.total,
  ok: s.ok,
  p50: s.latencyMs.p50,
  p95: s.latencyMs.p95,
  p99: s.latencyMs.p99,
});
