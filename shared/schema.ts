/**
 * The one table and the buckets, defined once: the CDK stack creates them from
 * this module and the local runner (and the test setup) creates them in
 * dynalite and s3rver from it too.
 *
 * The table is a single-table design with generic key names; the key formats
 * of each item kind live with the domain code that writes them.
 */
export const TABLE = {
  /** Default physical name locally; in the cloud CloudFormation names it and passes TABLE_NAME. */
  defaultName: 'openai-status',
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds. DynamoDB deletes lazily and dynalite never does: readers must filter on it. */
  ttlAttribute: 'expiresAt',
  // No secondary index: every query reads the base table by key. The first
  // query that needs one adds it here, with the stack and the local runner.
} as const;

/** All key attributes are strings. */
export const KEY_ATTRIBUTE_TYPE = 'S' as const;

export const BUCKETS = {
  /** Holds incidents.json (ARTIFACT_PREFIXES). */
  artifacts: { defaultName: 'openai-status-artifacts' },
} as const;

/**
 * Keys and prefixes inside the artifacts bucket, each added with the code that
 * writes it (and, in the cloud, any lifecycle rule it needs).
 */
export const ARTIFACT_PREFIXES = {
  incidents: 'incidents.json',
  /** Log search segments: `logs/<index key>/<yyyy-mm-ddThh>/<segment id>.seg` (shared/logs/segments-store.ts). */
  logSegments: 'logs/',
  /** Synthetic run screenshots: `synthetics/<monitor id>/<run id>/<n>.jpg` (shared/synthetics/run.ts). */
  synthetics: 'synthetics/',
} as const;
