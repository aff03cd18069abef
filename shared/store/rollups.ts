/**
 * Reading rollups for a time range, without Scan and with a cost that does not
 * grow with traffic: minute rollups, or hour rollups with minute rollups only
 * for the partial hours at the edges, whichever reads fewer items.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import type { Source } from '../events/model.js';
import { TABLE } from '../schema.js';
import {
  DAY_MS,
  dayOf,
  floorTo,
  HOUR_MS,
  hourOf,
  MINUTE_MS,
  minuteOf,
  monthOf,
  type Resolution,
} from './keys.js';

/** /timeseries gives ranges up to this long minute buckets (read from minute rollups alone). */
export const MINUTE_ONLY_MAX_MS = 6 * HOUR_MS;

/** A half-open range [from, to) read at one resolution; both ends aligned to it. */
export interface Segment {
  resolution: Resolution;
  from: number;
  to: number;
}

export interface RollupItem extends Record<string, unknown> {
  resolution: Resolution;
  bucketStart: number;
  source: Source;
  endpoint: string;
  model: string;
  region: string;
}

export interface LabelFilter {
  endpoint?: readonly string[] | undefined;
  model?: readonly string[] | undefined;
  region?: readonly string[] | undefined;
}

const ceilTo = (ts: number, step: number) => Math.ceil(ts / step) * step;

/**
 * The segments that cover [from, to) (minute-aligned) most cheaply: minute
 * rollups alone, or hour rollups with minute rollups for the partial hours at
 * the edges, whichever reads fewer items (one per label set and minute or
 * hour). The hour rollup of the hour in progress already holds exactly its
 * minutes so far, so when the range runs to now it is read whole: the last six
 * hours at hh:35 cost 25 minutes + 6 hours per label set rather than 360 minutes.
 */
export function planSegments(from: number, to: number, now: number, forceResolution?: Resolution): Segment[] {
  const start = floorTo(from, MINUTE_MS);
  const end = ceilTo(to, MINUTE_MS);
  if (end <= start) return [];
  if (forceResolution === 'hour')
    return [{ resolution: 'hour', from: floorTo(start, HOUR_MS), to: ceilTo(end, HOUR_MS) }];
  const minuteOnly: Segment[] = [{ resolution: 'minute', from: start, to: end }];
  if (forceResolution === 'minute') return minuteOnly;
  const firstHour = ceilTo(start, HOUR_MS);
  const lastHour = end >= floorTo(now, MINUTE_MS) ? ceilTo(end, HOUR_MS) : floorTo(end, HOUR_MS);
  if (firstHour >= lastHour) return minuteOnly;
  const segments: Segment[] = [];
  if (start < firstHour) segments.push({ resolution: 'minute', from: start, to: firstHour });
  if (firstHour < lastHour) segments.push({ resolution: 'hour', from: firstHour, to: lastHour });
  if (lastHour < end) segments.push({ resolution: 'minute', from: lastHour, to: end });
  const items = (plan: Segment[]) =>
    plan.reduce((n, s) => n + (s.to - s.from) / (s.resolution === 'hour' ? HOUR_MS : MINUTE_MS), 0);
  return items(segments) < items(minuteOnly) ? segments : minuteOnly;
}

/** One Query per partition a segment touches: days for minutes, months for hours. */
function partitionRanges(source: Source, segment: Segment): { pk: string; low: string; high: string }[] {
  const ranges: { pk: string; low: string; high: string }[] = [];
  const last = segment.to - 1;
  if (segment.resolution === 'minute') {
    for (let day = floorTo(segment.from, DAY_MS); day <= last; day += DAY_MS) {
      const low = Math.max(segment.from, day);
      const high = Math.min(last, day + DAY_MS - 1);
      // `$` sorts right after `#`, so `<minute>$` is above every key of that minute.
      ranges.push({ pk: `RM#${source}#${dayOf(day)}`, low: minuteOf(low), high: `${minuteOf(high)}$` });
    }
  } else {
    let month = Date.UTC(new Date(segment.from).getUTCFullYear(), new Date(segment.from).getUTCMonth(), 1);
    while (month <= last) {
      const date = new Date(month);
      const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      const low = Math.max(segment.from, month);
      const high = Math.min(last, next - 1);
      ranges.push({ pk: `RH#${source}#${monthOf(month)}`, low: hourOf(low), high: `${hourOf(high)}$` });
      month = next;
    }
  }
  return ranges;
}

function matches(item: RollupItem, filter: LabelFilter): boolean {
  return (
    (!filter.endpoint || filter.endpoint.includes(item.endpoint)) &&
    (!filter.model || filter.model.includes(item.model)) &&
    (!filter.region || filter.region.includes(item.region))
  );
}

/**
 * Reads rollups for one request. Queries are remembered, so the several ranges
 * of one answer (window, last hour, last six hours) read what they share once,
 * and `itemsRead` counts what DynamoDB was asked for.
 */
export class RollupReader {
  itemsRead = 0;
  queries = 0;
  /** What this request has asked for, per partition. */
  private readonly cache = new Map<string, { low: string; high: string; items: Promise<RollupItem[]> }[]>();

  constructor(
    private readonly tableName: string,
    private readonly now: number,
  ) {}

  /** Items of the given sources in [from, to), filtered by labels, expired ones dropped. */
  async read(options: {
    sources: readonly Source[];
    from: number;
    to: number;
    filter?: LabelFilter;
    resolution?: Resolution;
  }): Promise<RollupItem[]> {
    const segments = planSegments(options.from, options.to, this.now, options.resolution);
    const parts = await Promise.all(
      options.sources.flatMap((source) =>
        segments.flatMap((segment) => partitionRanges(source, segment).map((range) => this.query(range))),
      ),
    );
    const nowSec = this.now / 1000;
    return parts.flat().filter((item) => {
      const expires = item[TABLE.ttlAttribute];
      return (typeof expires !== 'number' || expires > nowSec) && matches(item, options.filter ?? {});
    });
  }

  /**
   * A range inside one this request has already asked for is cut out of that
   * answer instead of read again: the 1 h and 6 h figures of /status come out
   * of the window's hour rollups.
   */
  private query(range: { pk: string; low: string; high: string }): Promise<RollupItem[]> {
    const known = this.cache.get(range.pk) ?? [];
    const covering = known.find((entry) => entry.low <= range.low && entry.high >= range.high);
    if (covering) {
      if (covering.low === range.low && covering.high === range.high) return covering.items;
      return covering.items.then((items) =>
        items.filter((item) => {
          const sk = item[TABLE.sortKey] as string;
          return sk >= range.low && sk <= range.high;
        }),
      );
    }
    const items = this.queryAll(range);
    known.push({ low: range.low, high: range.high, items });
    this.cache.set(range.pk, known);
    return items;
  }

  private async queryAll(range: { pk: string; low: string; high: string }): Promise<RollupItem[]> {
    const items: RollupItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      this.queries++;
      const page = await dynamoClient().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': range.pk, ':low': range.low, ':high': range.high },
          ExclusiveStartKey: startKey,
        }),
      );
      this.itemsRead += page.ScannedCount ?? page.Count ?? 0;
      items.push(...((page.Items ?? []) as RollupItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}
