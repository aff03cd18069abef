/**
 * What `GET /health` reports: versions, which upstream probes go to, and
 * whether the table and the artifacts bucket answer.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import pkg from '../package.json' with { type: 'json' };
import { dynamoClient, s3Client } from './aws.js';
import type { Config } from './config.js';

export interface ComponentHealth {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export interface Health {
  ok: boolean;
  versions: { app: string; node: string };
  upstream: Config['upstream'];
  store: {
    table: ComponentHealth & { name: string; status?: string };
    artifacts: ComponentHealth & { name: string };
  };
}

async function timed<T>(check: () => Promise<T>): Promise<{ value?: T } & ComponentHealth> {
  const start = performance.now();
  try {
    const value = await check();
    return { ok: true, latencyMs: Math.round(performance.now() - start), value };
  } catch (error) {
    const name = (error as Error).name || 'Error';
    return { ok: false, latencyMs: Math.round(performance.now() - start), detail: name };
  }
}

export async function checkHealth(config: Config): Promise<Health> {
  const [table, artifacts] = await Promise.all([
    timed(async () => {
      const { Table } = await dynamoClient().send(new DescribeTableCommand({ TableName: config.tableName }));
      if (Table?.TableStatus !== 'ACTIVE')
        throw Object.assign(new Error(), { name: `Table${Table?.TableStatus}` });
      return Table.TableStatus;
    }),
    timed(() => s3Client().send(new HeadBucketCommand({ Bucket: config.artifactsBucket }))),
  ]);
  return {
    ok: table.ok && artifacts.ok,
    versions: { app: pkg.version, node: process.version },
    upstream: config.upstream,
    store: {
      table: {
        name: config.tableName,
        ok: table.ok,
        latencyMs: table.latencyMs,
        ...(table.ok ? { status: 'ACTIVE' } : { detail: table.detail }),
      },
      artifacts: {
        name: config.artifactsBucket,
        ok: artifacts.ok,
        latencyMs: artifacts.latencyMs,
        ...(artifacts.ok ? {} : { detail: artifacts.detail }),
      },
    },
  };
}
