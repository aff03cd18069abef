/**
 * Ingestion throughput: 100,000 traces in batches of 500 through the
 * `POST /ingest/trace` handler on the local store (in-memory dynalite), and
 * the DynamoDB requests it makes, counted at the SDK client.
 *
 * Then OTLP `/v1/traces`, protobuf against JSON (bench/ingest-otlp.ts).
 *
 *   npx tsx bench/ingest.ts            (TRACES=20000 OTLP_SPANS=5000 for a quick run)
 */
import { randomUUID } from 'node:crypto';
import {
  httpEvent,
  installAwsLambdaGlobal,
  invokeHttpHandler,
  lambdaContext,
  matchRoute,
} from '../infra/local/lambda.js';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { resetConfig } from '../shared/config.js';
import { ROUTES } from '../shared/routes.js';
import { otlpEncodingsBench } from './ingest-otlp.js';

const TOTAL = Number(process.env.TRACES ?? 100_000);
const BATCH = 500;
const CONCURRENCY = 4;
const KEY = 'bench-ingest-key';

const store = await startLocalStore({ dataDir: undefined });
await ensureSchema({ ...store, tableName: 'bench-ingest', buckets: ['bench-ingest'] });
Object.assign(process.env, {
  DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
  S3_ENDPOINT: store.s3Endpoint,
  AWS_REGION: 'us-east-1',
  TABLE_NAME: 'bench-ingest',
  ARTIFACTS_BUCKET: 'bench-ingest',
  INGEST_API_KEY: KEY,
  LOG_LEVEL: 'SILENT',
});
resetConfig();
resetClients();
installAwsLambdaGlobal();
const { handler } = await import('../functions/ingest/handler.js');

// Count every request the handler sends to DynamoDB, by operation.
const calls = new Map<string, number>();
dynamoClient().middlewareStack.add(
  (next, context) => async (args) => {
    const name = String(context.commandName ?? 'unknown');
    calls.set(name, (calls.get(name) ?? 0) + 1);
    return next(args);
  },
  { step: 'initialize', name: 'countRequests' },
);

const endpoints = ['chat', 'responses', 'embeddings', 'moderations', 'images'];
const models = ['gpt-4o-mini', 'gpt-4.1-mini', 'text-embedding-3-small'];
const now = Date.now();
const start = now - 30 * 60_000;
let n = 0;
/** Traces spread over 30 minutes, the way a busy app would send them. */
function batch(): string {
  return JSON.stringify(
    Array.from({ length: BATCH }, () => {
      const i = n++;
      const ok = i % 50 !== 0;
      return {
        id: `b${i}`,
        ts: start + Math.floor((i / TOTAL) * 30 * 60_000),
        endpoint: endpoints[i % endpoints.length],
        model: models[i % models.length],
        region: i % 2 ? 'us-east-1' : 'eu-west-1',
        ok,
        ...(ok ? { status: 200 } : { status: 500, errorType: 'server_error' }),
        latencyMs: 100 + (i % 900),
        inputTokens: 50 + (i % 100),
        outputTokens: 10 + (i % 20),
      };
    }),
  );
}

const route = matchRoute(ROUTES, 'POST', '/ingest/trace');
async function send(body: string): Promise<void> {
  const event = httpEvent({
    method: 'POST',
    path: '/ingest/trace',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'idempotency-key': randomUUID() },
    body,
    ...(route ? { route } : {}),
  });
  const answer = await invokeHttpHandler(handler as never, event, lambdaContext('ingest', 29));
  if (answer.statusCode !== 200)
    throw new Error(`ingest answered ${answer.statusCode}: ${String(answer.body)}`);
}

const batches = Math.ceil(TOTAL / BATCH);
const bodies = Array.from({ length: batches }, batch);
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) await send(bodies[next++] as string);
  }),
);
const seconds = (performance.now() - started) / 1000;

const per1000 = (name: string) => ((calls.get(name) ?? 0) / TOTAL) * 1000;
const writes = ['BatchWriteItemCommand', 'UpdateItemCommand', 'PutItemCommand'];
console.log(
  `traces: ${TOTAL.toLocaleString()} in ${batches} requests of ${BATCH}, ${CONCURRENCY} at a time, in-memory dynalite`,
);
console.log(`throughput: ${Math.round(TOTAL / seconds).toLocaleString()} traces/s (${seconds.toFixed(1)} s)`);
console.log('DynamoDB requests per 1,000 traces:');
for (const [name, count] of [...calls.entries()].sort()) {
  console.log(
    `  ${name.padEnd(24)} ${per1000(name).toFixed(2).padStart(8)}   (${count.toLocaleString()} in all)`,
  );
}
// UpdateItems: one idempotency update per request, then per distinct rollup key one update and one marker clean-up.
const rollupKeys = ((calls.get('UpdateItemCommand') ?? 0) - batches) / 2;
console.log(
  `write requests per 1,000 traces: ${writes.reduce((s, w) => s + per1000(w), 0).toFixed(2)} ` +
    `(claims ${per1000('PutItemCommand').toFixed(2)}, one conditional put per trace plus the idempotency claim; ` +
    `commits ${per1000('BatchWriteItemCommand').toFixed(2)}, 25 traces each; ` +
    `rollup updates ${((rollupKeys / TOTAL) * 1000).toFixed(2)} and as many marker clean-ups, one per distinct key and minute/hour)`,
);
// OTLP/HTTP: protobuf against JSON, in a section of its own.
await otlpEncodingsBench({
  handler: handler as never,
  apiKey: KEY,
  spans: Number(process.env.OTLP_SPANS ?? 20_000),
});

resetClients();
await store.close();
