/**
 * The S3 client (shared/aws.ts has the DynamoDB one and the local endpoints).
 * Only the modules that use the bucket import this one, and it imports the
 * SDK on first use: most requests of most functions never touch the bucket,
 * so the S3 SDK (~100 KB minified) is a chunk of its own, loaded by the first
 * request that needs it rather than at every cold start
 * (infra/constructs/bundling.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION, onResetClients } from './aws.js';
import { getConfig } from './config.js';

let s3: Promise<S3Client> | undefined;
let s3Module: Promise<typeof import('@aws-sdk/client-s3')> | undefined;

/** The S3 SDK (its commands and errors), imported once. */
export function s3Sdk(): Promise<typeof import('@aws-sdk/client-s3')> {
  s3Module ??= import('@aws-sdk/client-s3');
  return s3Module;
}

export function s3Client(): Promise<S3Client> {
  if (!s3) {
    const { s3Endpoint: endpoint, platform } = getConfig();
    s3 = s3Sdk().then(
      ({ S3Client }) =>
        new S3Client(
          endpoint
            ? {
                endpoint,
                region: platform.awsRegion ?? LOCAL_REGION,
                credentials: LOCAL_CREDENTIALS,
                // s3rver only understands path-style addressing.
                forcePathStyle: true,
              }
            : {},
        ),
    );
  }
  return s3;
}

onResetClients(() => {
  void s3?.then(
    (client) => client.destroy(),
    () => {},
  );
  s3 = undefined;
});
