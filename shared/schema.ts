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
  /** Sparse secondary indexes: only items that set the index's key attributes appear in them. */
  globalSecondaryIndexes: [
    {
      indexName: 'gsi1',
      partitionKey: 'gsi1pk',
      sortKey: 'gsi1sk',
    },
  ],
} as const;

export type IndexName = (typeof TABLE.globalSecondaryIndexes)[number]['indexName'];

/** All key attributes are strings. */
export const KEY_ATTRIBUTE_TYPE = 'S' as const;

export const BUCKETS = {
  /** Search segments, screenshots, incidents.json, exports. */
  artifacts: { defaultName: 'openai-status-artifacts' },
} as const;

/** Prefixes inside the artifacts bucket, each with its own lifecycle in the cloud. */
export const ARTIFACT_PREFIXES = {
  exports: 'exports/',
  screenshots: 'screenshots/',
  search: 'search/',
  incidents: 'incidents.json',
} as const;
