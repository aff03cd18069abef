/**
 * Runs in each test worker before its test files: points the AWS SDK at the
 * run's dynalite and s3rver and installs the `awslambda` global that
 * streaming handlers need, exactly as the local runner does.
 */
import { inject } from 'vitest';
import { installAwsLambdaGlobal } from '../infra/local/lambda.js';

process.env.DYNAMODB_ENDPOINT = inject('dynamodbEndpoint');
process.env.S3_ENDPOINT = inject('s3Endpoint');
process.env.AWS_REGION = 'us-east-1';
// A random key per run, never one derived from something public (shared/traces/cursor.ts).
process.env.CURSOR_SECRET = inject('cursorSecret');
// Handlers log errors on purpose in many tests; TEST_LOG_LEVEL=DEBUG shows them.
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
for (const name of [
  'OPENAI_API_KEY',
  'INGEST_API_KEY',
  'OPENAI_BASE_URL',
  'TABLE_NAME',
  'ARTIFACTS_BUCKET',
  'SECRET_ARN',
  'CURSOR_SECRET_ARN',
]) {
  delete process.env[name];
}
installAwsLambdaGlobal();
