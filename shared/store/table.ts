/** The table itself, for `GET /health`. */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../aws.js';

/** The table's status (`ACTIVE` when it serves), or undefined when DynamoDB names none. */
export async function tableStatus(tableName: string): Promise<string | undefined> {
  const { Table } = await dynamoClient().send(new DescribeTableCommand({ TableName: tableName }));
  return Table?.TableStatus;
}

/** The size DynamoDB gives an item: attribute names plus values (numbers about one byte per two digits). */
export function itemBytes(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += name.length;
    if (typeof value === 'string') size += Buffer.byteLength(value);
    else if (typeof value === 'number')
      // Whole numbers (most of them: counts) have only digits; the pattern is for the others.
      size +=
        Math.ceil(
          (Number.isSafeInteger(value)
            ? String(Math.abs(value)).length
            : String(Math.abs(value)).replace(/[.e+-]/g, '').length) / 2,
        ) + 1;
    else if (value instanceof Uint8Array) size += value.byteLength;
    else if (typeof value === 'boolean' || value === null) size += 1;
    else size += Buffer.byteLength(JSON.stringify(value) ?? '');
  }
  return size;
}
