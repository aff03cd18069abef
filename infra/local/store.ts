/**
 * The local stand-ins for DynamoDB and S3: dynalite and s3rver on loopback,
 * persisted under a data directory (or in memory / a temporary folder when no
 * directory is given). Used by `npm start` and by the test setup.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { KEY_ATTRIBUTE_TYPE, TABLE } from '../../shared/schema.js';

export interface LocalStore {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** Where the data lives, or undefined when it is in memory. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

const LOCAL_CLIENT = {
  region: 'us-east-1', // s3rver accepts only its built-in key pair; dynalite accepts any.
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
};

export async function startLocalStore(options: {
  dataDir: string | undefined;
  host?: string;
  dynamodbPort?: number;
  s3Port?: number;
}): Promise<LocalStore> {
  const host = options.host ?? '127.0.0.1';
  const dynamoPath = options.dataDir ? join(options.dataDir, 'dynamodb') : undefined;
  if (dynamoPath) mkdirSync(dynamoPath, { recursive: true });
  // s3rver always needs a folder; without a data directory it gets a temporary one.
  const s3Dir = options.dataDir
    ? join(options.dataDir, 's3')
    : mkdtempSync(join(tmpdir(), 'openai-status-s3-'));
  mkdirSync(s3Dir, { recursive: true });

  const dynamo = dynalite({ path: dynamoPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(options.dynamodbPort ?? 0, host, () => resolve());
  });
  const dynamoPort = (dynamo.address() as AddressInfo).port;

  const s3 = new S3rver({ address: host, port: options.s3Port ?? 0, directory: s3Dir, silent: true });
  const s3Address = (await s3.run()) as AddressInfo;

  return {
    dynamodbEndpoint: `http://${host}:${dynamoPort}`,
    s3Endpoint: `http://${host}:${s3Address.port}`,
    dataDir: options.dataDir,
    async close() {
      // Keep-alive sockets of SDK clients would otherwise hold the servers open.
      dynamo.closeAllConnections();
      s3.httpServer?.closeAllConnections();
      await Promise.all([new Promise<void>((resolve) => dynamo.close(() => resolve())), s3.close()]);
      if (!options.dataDir) rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}

/** The CreateTable request for the schema: the same keys the CDK stack declares. */
function createTableInput(tableName: string): CreateTableCommandInput {
  const keyAttributes = [TABLE.partitionKey, TABLE.sortKey];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyAttributes.map((name) => ({
      AttributeName: name,
      AttributeType: KEY_ATTRIBUTE_TYPE,
    })),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
  };
}

/** Creates the table and the buckets if they do not exist yet. Safe to call on every start. */
export async function ensureSchema(options: {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  tableName: string;
  buckets: readonly string[];
}): Promise<{ tableCreated: boolean; bucketsCreated: string[] }> {
  const dynamo = new DynamoDBClient({ ...LOCAL_CLIENT, endpoint: options.dynamodbEndpoint });
  const s3 = new S3Client({ ...LOCAL_CLIENT, endpoint: options.s3Endpoint, forcePathStyle: true });
  try {
    let tableCreated = false;
    try {
      await dynamo.send(new CreateTableCommand(createTableInput(options.tableName)));
      tableCreated = true;
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    // dynalite activates a new table on a timer: on a busy machine it can still be CREATING here.
    for (let attempt = 0; ; attempt++) {
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: options.tableName }));
      if (Table?.TableStatus === 'ACTIVE') break;
      if (attempt >= 200) throw new Error(`Table ${options.tableName} is ${Table?.TableStatus}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    const bucketsCreated: string[] = [];
    for (const bucket of options.buckets) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        bucketsCreated.push(bucket);
      }
    }
    return { tableCreated, bucketsCreated };
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}
