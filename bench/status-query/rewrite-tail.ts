/**
 * Brings the endpoint minutes of a persisted bench table's minutes not
 * compacted yet to the current layout (keys.ts: one item per endpoint,
 * minute and endpointMinuteShard, not one per writer shard). Tables loaded
 * before that change hold them per writer shard; they read right either way,
 * only with more items when many shards wrote a minute.
 *
 * The endpoint minutes are rebuilt from the label-set minute rollups of the
 * same minutes: a writer's endpoint minute is the sum of its label-set
 * minutes of that endpoint (rollupDeltas builds both from the same events on
 * the same shard), and a label-set minute item on shard `s` holds the sum of
 * the writers of shard `s`. So each `RM#` item adds to the endpoint minute
 * that writers of its shard write now, exactly, with no raw events or writer
 * tokens needed. For a bench table only: it assumes no writer is running.
 */
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../../shared/aws.js';
import type { Source } from '../../shared/events/model.js';
import { TABLE } from '../../shared/schema.js';
import { batchPut } from '../../shared/store/batch-write.js';
import { compactHorizon } from '../../shared/store/compaction.js';
import { ROLLUP_LAST } from '../../shared/store/item-layout.js';
import {
  DAY_MS,
  endpointMinuteKey,
  endpointMinutePartition,
  floorTo,
  ROLLUP_SHARD_LIST,
  rollupPartition,
  rollupSortRange,
} from '../../shared/store/keys.js';

/** Numeric attributes of a rollup item that are not counters (summing them would be wrong). */
const NOT_COUNTERS = new Set<string>(['bucketStart', TABLE.ttlAttribute, ...Object.values(ROLLUP_LAST)]);

async function queryAll(tableName: string, pk: string, low: string, high: string) {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoClient().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': pk, ':low': low, ':high': high },
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export interface TailRewrite {
  /** Endpoint-minute items deleted (the old layout). */
  removed: number;
  /** Endpoint-minute items written (the new layout). */
  written: number;
  /** Events the label-set minutes of the tail count (the sum of `n` written). */
  events: number;
}

/** Rewrites the endpoint minutes of [compactHorizon(now), now] of `source` from its label-set minutes. */
export async function rewriteTail(
  tableName: string,
  now: number,
  source: Source = 'probe',
): Promise<TailRewrite> {
  const from = compactHorizon(now);
  const { low, high } = rollupSortRange('minute', from, now);
  const old: Record<string, unknown>[] = [];
  const rebuilt = new Map<string, Record<string, unknown>>();
  for (let day = floorTo(from, DAY_MS); day <= now; day += DAY_MS) {
    for (const shard of ROLLUP_SHARD_LIST) {
      old.push(...(await queryAll(tableName, endpointMinutePartition(source, day, shard), low, high)));
      for (const item of await queryAll(
        tableName,
        rollupPartition('minute', source, day, shard),
        low,
        high,
      )) {
        const bucketStart = item.bucketStart as number;
        const endpoint = item.endpoint as string;
        const key = endpointMinuteKey(bucketStart, { source, endpoint }, shard);
        const id = `${key.pk}|${key.sk}`;
        let target = rebuilt.get(id);
        if (!target) {
          target = {
            [TABLE.partitionKey]: key.pk,
            [TABLE.sortKey]: key.sk,
            resolution: 'minute',
            bucketStart,
            source,
            endpoint,
            model: '',
            region: '',
            [TABLE.ttlAttribute]: item[TABLE.ttlAttribute],
          };
          rebuilt.set(id, target);
        }
        for (const [name, value] of Object.entries(item)) {
          if (typeof value !== 'number' || NOT_COUNTERS.has(name)) continue;
          target[name] = ((target[name] as number | undefined) ?? 0) + value;
        }
        const lastTs = (x: Record<string, unknown>) =>
          (x[ROLLUP_LAST.ts] as number | undefined) ?? Number.NEGATIVE_INFINITY;
        if (lastTs(item) >= lastTs(target))
          for (const name of Object.values(ROLLUP_LAST)) if (name in item) target[name] = item[name];
      }
    }
  }
  for (let i = 0; i < old.length; i += 25) {
    let pending: Record<string, unknown>[] | undefined = old.slice(i, i + 25).map((item) => ({
      DeleteRequest: {
        Key: { [TABLE.partitionKey]: item[TABLE.partitionKey], [TABLE.sortKey]: item[TABLE.sortKey] },
      },
    }));
    while (pending?.length) {
      const answer = await dynamoClient().send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }),
      );
      pending = answer.UnprocessedItems?.[tableName] as Record<string, unknown>[] | undefined;
    }
  }
  const items = [...rebuilt.values()];
  await batchPut(tableName, items);
  return {
    removed: old.length,
    written: items.length,
    events: items.reduce((n, item) => n + Number(item.n ?? 0), 0),
  };
}
