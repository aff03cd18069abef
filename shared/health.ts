/**
 * What `GET /health` reports: versions, which upstream probes go to, and
 * whether the table and the artifacts bucket answer.
 */

import type { Config } from './config.js';
import { s3Client, s3Sdk } from './s3.js';
import { tableStatus } from './store/table.js';
import { APP_VERSION } from './version.js';

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
      const status = await tableStatus(config.tableName);
      if (status !== 'ACTIVE') throw Object.assign(new Error(), { name: `Table${status}` });
      return status;
    }),
    timed(async () => {
      const { HeadBucketCommand } = await s3Sdk();
      return (await s3Client()).send(new HeadBucketCommand({ Bucket: config.artifactsBucket }));
    }),
  ]);
  return {
    ok: table.ok && artifacts.ok,
    versions: { app: APP_VERSION, node: process.version },
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
