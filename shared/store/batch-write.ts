/** BatchWriteItem Puts of any number of items: 25 per request, unprocessed items retried with backoff. */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';

const BATCH_WRITE_MAX = 25;
const MAX_ATTEMPTS = 8;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Puts `items` (whole items, keys included), 25 per BatchWriteItem request,
 * one request at a time. `send` sends each request (default: the shared
 * client), so a caller can count or wrap them.
 */
export async function batchPut(
  tableName: string,
  items: readonly Record<string, unknown>[],
  send: (command: BatchWriteCommand) => Promise<unknown> = (command) => dynamoClient().send(command),
): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
    let pending: { PutRequest: { Item: Record<string, unknown> } }[] | undefined = items
      .slice(i, i + BATCH_WRITE_MAX)
      .map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending?.length; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchWriteItem kept returning unprocessed items');
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
      const answer = (await send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }))) as {
        UnprocessedItems?: Record<string, typeof pending>;
      };
      pending = answer.UnprocessedItems?.[tableName];
    }
  }
}
