/**
 * Helpers to run handlers the way Lambda does: HTTP handlers with an API
 * Gateway v2 event built from a method and path, scheduled handlers with an
 * EventBridge event, against the test run's dynalite and s3rver.
 */
import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { type Gateway, type GatewayOptions, startGateway } from '../infra/local/gateway.js';
import {
  type AnyHandler,
  httpEvent,
  invokeHttpHandler,
  lambdaContext,
  matchRoute,
  scheduledEvent,
} from '../infra/local/lambda.js';
import { ensureSchema } from '../infra/local/store.js';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { resetConfig } from '../shared/config.js';
import { ROUTES, type RouteSpec } from '../shared/routes.js';
import { ROLLUP_LAST } from '../shared/store/item-layout.js';
import { type Resolution, ROLLUP_SHARD_LIST, type RollupLabels, rollupKey } from '../shared/store/keys.js';

export { startSimulator } from '../infra/local/simulator.js';
export { ManualClock, useClock } from '../shared/clock.js';

export interface InvokeOptions {
  method?: string;
  /** Path, optionally with a query string. */
  path: string;
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  /** Objects are sent as JSON (content-type set unless given). */
  body?: unknown;
  /** Route table to match against (default: the product's). */
  routes?: readonly RouteSpec[];
}

export interface InvokeResult {
  statusCode: number;
  headers: Record<string, string>;
  text: string;
  /** Chunks as the handler streamed them (one chunk for buffered answers). */
  chunks: string[];
  json<T = Record<string, unknown>>(): T;
}

/** Invokes an HTTP handler with the event API Gateway would send for this request. */
export async function invokeHttp(handler: AnyHandler, options: InvokeOptions): Promise<InvokeResult> {
  const method = options.method ?? 'GET';
  const url = new URL(options.path, 'http://localhost');
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value));
  const headers: Record<string, string> = { host: 'localhost', ...(options.headers ?? {}) };
  let body: string | Buffer | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) body = options.body;
    else {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  const route = matchRoute(options.routes ?? ROUTES, method, url.pathname);
  const requestId = randomUUID();
  const event = httpEvent({
    method,
    path: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(body === undefined ? {} : { body }),
    ...(route ? { route } : {}),
    requestId,
  });
  const answer = await invokeHttpHandler(
    handler,
    event,
    lambdaContext(route?.route.function ?? 'test', 30, requestId),
  );
  const chunks: string[] = [];
  if (Buffer.isBuffer(answer.body)) chunks.push(answer.body.toString('utf8'));
  else for await (const chunk of answer.body) chunks.push(Buffer.from(chunk as Buffer).toString('utf8'));
  const text = chunks.join('');
  return {
    statusCode: answer.statusCode,
    headers: answer.headers,
    text,
    chunks,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** Invokes a scheduled handler with an EventBridge scheduled event for `time`. */
export async function invokeScheduled(
  handler: AnyHandler,
  options: { functionName: string; time?: number },
): Promise<unknown> {
  const event: ScheduledEvent = scheduledEvent({
    ruleName: `${options.functionName}-schedule`,
    ...(options.time === undefined ? {} : { time: options.time }),
  });
  const context: Context = lambdaContext(options.functionName, 60);
  return (handler as unknown as (e: ScheduledEvent, c: Context) => Promise<unknown>)(event, context);
}

/**
 * Sets environment variables for the rest of the test file (or until the
 * returned function restores them) and makes config and clients re-read them.
 */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(vars)) {
    previous[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfig();
  resetClients();
  return () => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfig();
    resetClients();
  };
}

/** Creates a new, empty table (and bucket) from the schema and points config at them: isolation per test file. */
export async function useFreshStore(): Promise<{ tableName: string; bucket: string }> {
  const suffix = randomUUID().slice(0, 8);
  const tableName = `test-${suffix}`;
  const bucket = `test-${suffix}`;
  await ensureSchema({
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT as string,
    s3Endpoint: process.env.S3_ENDPOINT as string,
    tableName,
    buckets: [bucket],
  });
  setEnv({ TABLE_NAME: tableName, ARTIFACTS_BUCKET: bucket });
  return { tableName, bucket };
}

/** The item stored under exactly this key in `tableName`, or undefined. */
export async function storedItem(
  tableName: string,
  key: { pk: string; sk: string },
): Promise<Record<string, unknown> | undefined> {
  const answer = await dynamoClient().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk = :sk',
      ExpressionAttributeValues: { ':pk': key.pk, ':sk': key.sk },
    }),
  );
  return answer.Items?.[0];
}

/** Attributes a rollup update SETs rather than ADDs: taken from the shard with the latest result, not summed. */
const ROLLUP_SET_ATTRIBUTES = new Set<string>([
  'pk',
  'sk',
  'resolution',
  'bucketStart',
  'source',
  'endpoint',
  'model',
  'region',
  'expiresAt',
  ...Object.values(ROLLUP_LAST),
]);

/**
 * The rollup of one label set and minute (or hour) as one item: its shards'
 * items (shared/store/keys.ts, ROLLUP_SHARDS) read and their counters summed,
 * the other attributes from the shard with the latest result; writer markers
 * left out. Undefined when no shard holds it.
 */
export async function storedRollup(
  tableName: string,
  resolution: Resolution,
  ts: number,
  labels: RollupLabels,
): Promise<Record<string, unknown> | undefined> {
  const shards = await Promise.all(
    ROLLUP_SHARD_LIST.map((shard) => storedItem(tableName, rollupKey(resolution, ts, labels, shard))),
  );
  const found = shards.filter((item) => item !== undefined);
  if (found.length === 0) return undefined;
  const latest = found.reduce((a, b) =>
    Number(b[ROLLUP_LAST.ts] ?? 0) > Number(a[ROLLUP_LAST.ts] ?? 0) ? b : a,
  );
  const merged: Record<string, unknown> = {};
  for (const item of found) {
    for (const [name, value] of Object.entries(item)) {
      if (name.startsWith('w_') || ROLLUP_SET_ATTRIBUTES.has(name) || typeof value !== 'number') continue;
      merged[name] = ((merged[name] as number | undefined) ?? 0) + value;
    }
  }
  for (const name of ROLLUP_SET_ATTRIBUTES) if (name in latest) merged[name] = latest[name];
  return merged;
}

/**
 * The local gateway on a free loopback port in front of the product's routes,
 * as the local stack serves them, with handlers from `loadHandler` (no dashboard files).
 */
export function startTestGateway(loadHandler: GatewayOptions['loadHandler']): Promise<Gateway> {
  return startGateway({
    host: '127.0.0.1',
    port: 0,
    routes: ROUTES,
    loadHandler,
    timeoutSec: () => 30,
    webDir: '/nonexistent',
  });
}
