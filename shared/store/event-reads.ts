/**
 * Reading raw events back: one Query of one shard of an hour (`EV#<hour>#<ss>`,
 * keys.ts), newest first, for the events of a time range that match the
 * filters. The walk over hours, the merge of an hour's shards, the paging and
 * the bounds of a request are the caller's (shared/traces/query.ts); this is
 * the DynamoDB part of it.
 *
 * The filters, the TTL (`expiresAt > now`: DynamoDB deletes lazily and dynalite
 * never does) and the pending mark (an event not yet counted, events.ts) are a
 * FilterExpression, so `scanned` counts what DynamoDB read, matching or not.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import type { ErrorType, Source, TraceEvent } from '../events/model.js';
import { TABLE } from '../schema.js';
import { PENDING } from './item-layout.js';
import { eventSortRange } from './keys.js';

/** What raw events to keep: every given filter must match; a list matches any of its values. */
export interface EventFilters {
  endpoint?: string[];
  model?: string[];
  region?: string[];
  source?: Source[];
  ok?: boolean;
  errorType?: ErrorType[];
  status?: number[];
  /** The W3C trace id (32 lower-case hex) the event belongs to. */
  traceId?: string;
}

interface Filter {
  expression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

/**
 * The FilterExpression: every given filter, the TTL, and only committed events
 * (a pending one is not counted yet: events.ts). Lists become IN, single values `=`.
 */
export function filterExpression(filters: EventFilters, nowSec: number): Filter {
  const names: Record<string, string> = { '#exp': TABLE.ttlAttribute, '#pending': PENDING.owner };
  const values: Record<string, unknown> = { ':now': nowSec };
  const parts = ['#exp > :now', 'attribute_not_exists(#pending)'];
  const match = (attribute: keyof EventFilters, wanted: readonly unknown[] | undefined) => {
    if (!wanted || wanted.length === 0) return;
    names[`#${attribute}`] = attribute;
    const keys = wanted.map((value, i) => {
      values[`:${attribute}${i}`] = value;
      return `:${attribute}${i}`;
    });
    parts.push(keys.length === 1 ? `#${attribute} = ${keys[0]}` : `#${attribute} IN (${keys.join(', ')})`);
  };
  match('endpoint', filters.endpoint);
  match('model', filters.model);
  match('region', filters.region);
  match('source', filters.source);
  match('ok', filters.ok === undefined ? undefined : [filters.ok]);
  match('errorType', filters.errorType);
  match('status', filters.status);
  match('traceId', filters.traceId === undefined ? undefined : [filters.traceId]);
  return { expression: parts.join(' AND '), names, values };
}

const INTERNAL_ATTRIBUTES: readonly string[] = [TABLE.partitionKey, TABLE.sortKey, TABLE.ttlAttribute];

/** The stored item without its keys and TTL: the event as it was recorded. */
function toEvent(item: Record<string, unknown>): TraceEvent {
  const event: Record<string, unknown> = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete event[name];
  return event as unknown as TraceEvent;
}

export interface EventQuery {
  tableName: string;
  /** The partition to read: one shard of an hour (keys.ts eventShardPartition). */
  partition: string;
  /** Inclusive range of event times (epoch ms). */
  from: number;
  to: number;
  filters: EventFilters;
  /** Epoch ms: items whose TTL has passed are left out. */
  now: number;
  /** Items DynamoDB may read (before filtering). */
  limit: number;
  /**
   * Resume below this sort key (exclusive); null reads from the newest end. It
   * need not be an item of this partition: an hour's shards resume at one position.
   */
  after: string | null;
}

export interface EventQueryPage {
  /** The matching events, newest first, each with its sort key (a resume position). */
  items: { sk: string; event: TraceEvent }[];
  /** Items DynamoDB read (ScannedCount). */
  scanned: number;
  /** Where the partition goes on (the last sort key read), or undefined when it is read to its end. */
  last: string | undefined;
}

/** One Query call: one page of one partition, newest first. */
export async function queryEventPartition(query: EventQuery): Promise<EventQueryPage> {
  const filter = filterExpression(query.filters, Math.floor(query.now / 1000));
  const { low, high } = eventSortRange(query.from, query.to);
  const result = await dynamoClient().send(
    new QueryCommand({
      TableName: query.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
      FilterExpression: filter.expression,
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey, ...filter.names },
      ExpressionAttributeValues: { ':pk': query.partition, ':low': low, ':high': high, ...filter.values },
      ScanIndexForward: false,
      Limit: query.limit,
      ...(query.after === null
        ? {}
        : { ExclusiveStartKey: { [TABLE.partitionKey]: query.partition, [TABLE.sortKey]: query.after } }),
    }),
  );
  const last = result.LastEvaluatedKey?.[TABLE.sortKey];
  return {
    items: (result.Items ?? []).map((item) => ({
      sk: String(item[TABLE.sortKey]),
      event: toEvent(item as Record<string, unknown>),
    })),
    scanned: result.ScannedCount ?? 0,
    last: last === undefined ? undefined : String(last),
  };
}
