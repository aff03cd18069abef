/**
 * AWS SDK clients, created once per process. In the cloud they use the
 * function's role and region; locally DYNAMODB_ENDPOINT and S3_ENDPOINT point
 * them at dynalite and s3rver. There is no other storage path. The S3 client
 * is in shared/s3.ts, imported only by the modules that use the bucket.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getConfig } from './config.js';

/** s3rver accepts only its built-in key pair; dynalite accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const LOCAL_REGION = 'us-east-1';

let dynamo: DynamoDBDocumentClient | undefined;
/** Resets of clients made elsewhere (shared/s3.ts): it registers its own, so importing this module does not bring S3 in. */
const resets: (() => void)[] = [];
export function onResetClients(reset: () => void): void {
  resets.push(reset);
}

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

/** Drop cached clients (after the local runner or a test changes endpoints). */
export function resetClients(): void {
  dynamo?.destroy();
  dynamo = undefined;
  for (const reset of resets) reset();
}
