/**
 * Starts dynalite and s3rver once for the test run, in memory, on free
 * loopback ports, and creates the table and bucket from the schema. Generates
 * the run's CURSOR_SECRET, as `npm start` does on a fresh data directory.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { BUCKETS, TABLE } from '../shared/schema.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    s3Endpoint: string;
    cursorSecret: string;
  }
}

export default async function setup(project: TestProject) {
  const store = await startLocalStore({ dataDir: undefined });
  await ensureSchema({
    dynamodbEndpoint: store.dynamodbEndpoint,
    s3Endpoint: store.s3Endpoint,
    tableName: TABLE.defaultName,
    buckets: [BUCKETS.artifacts.defaultName],
  });
  project.provide('dynamodbEndpoint', store.dynamodbEndpoint);
  project.provide('s3Endpoint', store.s3Endpoint);
  project.provide('cursorSecret', randomBytes(32).toString('base64url'));
  return () => store.close();
}
