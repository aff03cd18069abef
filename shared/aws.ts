/**
 * AWS SDK clients, created once per process. In the cloud they use the
 * function's role and region; locally DYNAMODB_ENDPOINT and S3_ENDPOINT point
 * them at dynalite and s3rver. There is no other storage path.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getConfig } from './config.js';

/** s3rver accepts only its built-in key pair; dynalite accepts any. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const LOCAL_REGION = 'us-east-1';

let dynamo: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;

export function dynamoClient(): DynamoDBDocumentClient {
  if (!dynamo) {
    const { dynamodbEndpoint: endpoint, platform } = getConfig();
    const base = new DynamoDBClient(
      endpoint
        ? { endpoint, region: platform.awsRegion ?? LOCAL_REGION, credentials: LOCAL_CREDENTIALS }
        : {},
    );
    dynamo = DynamoDBDocumentClient.from(base, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }
  return dynamo;
}

export function s3Client(): S3Client {
  if (!s3) {
    const { s3Endpoint: endpoint, platform } = getConfig();
    s3 = new S3Client(
      endpoint
        ? {
            endpoint,
            region: platform.awsRegion ?? LOCAL_REGION,
            credentials: LOCAL_CREDENTIALS,
            // s3rver only understands path-style addressing.
            forcePathStyle: true,
          }
        : {},
    );
  }
  return s3;
}

/** Drop cached clients (after the local runner or a test changes endpoints). */
export function resetClients(): void {
  dynamo?.destroy();
  s3?.destroy();
  dynamo = undefined;
  s3 = undefined;
}
