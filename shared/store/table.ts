/** The table itself, for `GET /health`. */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../aws.js';

/** The table's status (`ACTIVE` when it serves), or undefined when DynamoDB names none. */
export async function tableStatus(tableName: string): Promise<string | undefined> {
  const { Table } = await dynamoClient().send(new DescribeTableCommand({ TableName: tableName }));
  return Table?.TableStatus;
}
