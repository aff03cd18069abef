/**
 * The idempotency items of ingestion (shared/ingest/idempotency.ts): one item
 * per id (`IDEM#<id>`, keys.ts) that a conditional put claims ("pending") and
 * that keeps the answer once done ("done").
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { TABLE } from '../schema.js';
import { idempotencyKey } from './keys.js';

export interface IdempotencyRecord {
  state: 'pending' | 'done';
  bodyHash: string;
  /** Epoch ms of the claim. */
  createdAt: number;
  /** The saved answer (JSON) once done. */
  answer?: string;
}

const key = (id: string) => {
  const { pk, sk } = idempotencyKey(id);
  return { [TABLE.partitionKey]: pk, [TABLE.sortKey]: sk };
};

/**
 * Claims `id` as pending, unless it is held: free, expired (TTL deletes
 * lazily) or abandoned claims (pending and created before `abandonedBefore`)
 * can be taken. Returns undefined when claimed, or else the record that holds
 * it (read consistently; undefined fields if it vanished meanwhile).
 */
export async function claimIdempotency(
  tableName: string,
  id: string,
  claim: { bodyHash: string; now: number; expiresAt: number; abandonedBefore: number },
): Promise<Partial<IdempotencyRecord> | undefined> {
  try {
    await dynamoClient().send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...key(id),
          state: 'pending',
          bodyHash: claim.bodyHash,
          createdAt: claim.now,
          [TABLE.ttlAttribute]: Math.ceil(claim.expiresAt / 1000),
        },
        ConditionExpression:
          'attribute_not_exists(#pk) OR #ttl < :nowSec OR (#state = :pending AND createdAt < :abandoned)',
        ExpressionAttributeNames: {
          '#pk': TABLE.partitionKey,
          '#ttl': TABLE.ttlAttribute,
          '#state': 'state',
        },
        ExpressionAttributeValues: {
          ':nowSec': Math.floor(claim.now / 1000),
          ':pending': 'pending',
          ':abandoned': claim.abandonedBefore,
        },
      }),
    );
    return undefined;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const { Item } = await dynamoClient().send(
      new GetCommand({ TableName: tableName, Key: key(id), ConsistentRead: true }),
    );
    return (Item ?? {}) as Partial<IdempotencyRecord>;
  }
}

/** Saves the answer on a claimed id and marks it done. */
export async function completeIdempotency(tableName: string, id: string, answer: string): Promise<void> {
  await dynamoClient().send(
    new UpdateCommand({
      TableName: tableName,
      Key: key(id),
      UpdateExpression: 'SET #state = :done, answer = :answer',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':done': 'done', ':answer': answer },
    }),
  );
}

/** Releases a claim (best effort: a failure is ignored, the claim is then abandoned in time). */
export async function releaseIdempotency(tableName: string, id: string): Promise<void> {
  await dynamoClient()
    .send(new DeleteCommand({ TableName: tableName, Key: key(id) }))
    .catch(() => undefined);
}
