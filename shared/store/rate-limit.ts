/**
 * Fixed-window rate limits kept in the table, so they hold across Lambda
 * containers: one counter item per caller and minute, incremented only while
 * under the limit (a conditional update, one write unit per allowed call),
 * gone a few minutes later by TTL.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { TABLE } from '../schema.js';
import { floorTo, MINUTE_MS, rateLimitKey } from './keys.js';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets (for Retry-After). */
  retryAfterSec: number;
}

/** A caller as stored: a hash, so neither an API key nor an address is kept in the table. */
export function callerId(identity: string): string {
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

/** Counts one call of `action` by `caller` in the minute of `now`, unless `limit` calls were counted already. */
export async function takeRateToken(input: {
  tableName: string;
  action: string;
  caller: string;
  limit: number;
  now: number;
}): Promise<RateDecision> {
  const minute = floorTo(input.now, MINUTE_MS);
  const retryAfterSec = Math.max(1, Math.ceil((minute + MINUTE_MS - input.now) / 1000));
  try {
    await dynamoClient().send(
      new UpdateCommand({
        TableName: input.tableName,
        Key: rateLimitKey(input.action, input.caller, minute),
        UpdateExpression: 'ADD #n :one SET #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
        ExpressionAttributeNames: { '#n': 'n', '#ttl': TABLE.ttlAttribute },
        ExpressionAttributeValues: {
          ':one': 1,
          ':limit': input.limit,
          ':ttl': Math.floor((minute + 5 * MINUTE_MS) / 1000),
        },
      }),
    );
    return { allowed: true, retryAfterSec };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { allowed: false, retryAfterSec };
    throw error;
  }
}
