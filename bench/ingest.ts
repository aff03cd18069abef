/**
 * Ingestion throughput: 100,000 traces in batches of 500 through the
 * `POST /ingest/trace` handler on the local store (in-memory dynalite), and
 * the DynamoDB requests it makes, counted at the SDK client.
 *
 * Write units per partition key per second: the traces are stamped as a
 * client sending RATE traces/s would stamp them (TRACES / RATE seconds of
 * traffic, 5,000/s by default), and every write a request makes is counted
 * against its partition key in the second that request's traces were sent.
 * Write units are DynamoDB's, as the local store reports them
 * (ReturnConsumedCapacity: 1 per started KB of the larger of the item before
 * and after the write); a conditional write that fails still costs one. So
 * the per-key figures are what this traffic would put on DynamoDB, although
 * dynalite runs it slower than real time. DynamoDB serves about 1,000 write
 * units per second per partition key.
 *
 *   npx tsx bench/ingest.ts            (TRACES=20000 OTLP_SPANS=5000 for a quick run, RATE=50000 for another rate)
 *
 * Then OTLP `/v1/traces`, protobuf against JSON (bench/ingest-otlp.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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
/** Traces per second the timestamps model. */
const RATE = Number(process.env.RATE ?? 5_000);
/** DynamoDB's throughput per partition key, write units per second. */
const KEY_LIMIT_WU = 1_000;
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

/** The second of traffic the running request belongs to. */
const sending = new AsyncLocalStorage<number>();
/** Write units per `<second>|<partition key>`. */
const unitsPerKeySecond = new Map<string, number>();
/** Key attributes may come marshalled ({ S: … }) or plain, depending on where in the stack the command is. */
const plain = (value: unknown) =>
  typeof value === 'object' && value !== null && 'S' in value
    ? String((value as { S: unknown }).S)
    : String(value);
const charge = (pk: unknown, units: number) => {
  const id = `${sending.getStore() ?? -1}|${plain(pk)}`;
  unitsPerKeySecond.set(id, (unitsPerKeySecond.get(id) ?? 0) + units);
};
interface WriteInput {
  ReturnConsumedCapacity?: string;
  Item?: Record<string, unknown>;
  Key?: Record<string, unknown>;
  RequestItems?: Record<string, { PutRequest?: { Item: Record<string, unknown> } }[]>;
}
type Consumed = { CapacityUnits?: number } | { CapacityUnits?: number }[] | undefined;

// Count every request the handler sends to DynamoDB, by operation, and the write units of each write, by key.
const calls = new Map<string, number>();
dynamoClient().middlewareStack.add(
  (next, context) => async (args) => {
    const name = String(context.commandName ?? 'unknown');
    calls.set(name, (calls.get(name) ?? 0) + 1);
    const input = args.input as WriteInput;
    const single = input.Item ?? (name === 'GetItemCommand' ? undefined : input.Key);
    const batch = name === 'BatchWriteItemCommand' ? Object.values(input.RequestItems ?? {}).flat() : [];
    if (single || batch.length) input.ReturnConsumedCapacity = 'INDEXES';
    try {
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: Consumed }).ConsumedCapacity;
      if (single) charge(single.pk, (Array.isArray(consumed) ? undefined : consumed?.CapacityUnits) ?? 0);
      if (batch.length) {
        // The answer gives a table total: share it over the items by their size (all are raw events).
        const total = Array.isArray(consumed) ? consumed.reduce((s, c) => s + (c.CapacityUnits ?? 0), 0) : 0;
        for (const request of batch)
          if (request.PutRequest) charge(request.PutRequest.Item.pk, total / batch.length);
      }
      return result;
    } catch (error) {
      if (single && (error as Error).name === 'ConditionalCheckFailedException') charge(single.pk, 1);
      throw error;
    }
  },
  { step: 'initialize', name: 'countRequests' },
);

const endpoints = ['chat', 'responses', 'embeddings', 'moderations', 'images'];
const models = ['gpt-4o-mini', 'gpt-4.1-mini', 'text-embedding-3-small'];
const now = Date.now();
const seconds = Math.ceil(TOTAL / RATE);
/** The traffic ends a minute before now, so no trace is in the future. */
const start = now - 60_000 - seconds * 1000;
const tsOf = (i: number) => start + Math.floor((i / RATE) * 1000);
let n = 0;
/** Traces stamped RATE per second, the way a busy app would send them. */
function batch(): string {
  return JSON.stringify(
    Array.from({ length: BATCH }, () => {
      const i = n++;
      const ok = i % 50 !== 0;
      return {
        id: `b${i}`,
        ts: tsOf(i),
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
async function send(body: string, second: number): Promise<void> {
  const event = httpEvent({
    method: 'POST',
    path: '/ingest/trace',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'idempotency-key': randomUUID() },
    body,
    ...(route ? { route } : {}),
  });
  const answer = await sending.run(second, () =>
    invokeHttpHandler(handler as never, event, lambdaContext('ingest', 29)),
  );
  if (answer.statusCode !== 200)
    throw new Error(`ingest answered ${answer.statusCode}: ${String(answer.body)}`);
}

const batches = Math.ceil(TOTAL / BATCH);
const bodies = Array.from({ length: batches }, batch);
/** A batch is sent in the second its last trace was stamped. */
const secondOf = (b: number) => Math.floor((Math.min(TOTAL, (b + 1) * BATCH) - 1) / RATE);
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const b = next++;
      await send(bodies[b] as string, secondOf(b));
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;

const per1000 = (name: string) => ((calls.get(name) ?? 0) / TOTAL) * 1000;
const writes = ['BatchWriteItemCommand', 'UpdateItemCommand', 'PutItemCommand'];
console.log(
  `traces: ${TOTAL.toLocaleString()} in ${batches} requests of ${BATCH}, ${CONCURRENCY} at a time, in-memory dynalite`,
);
console.log(`throughput: ${Math.round(TOTAL / elapsed).toLocaleString()} traces/s (${elapsed.toFixed(1)} s)`);
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

// Write units per partition key per second of traffic: the hottest second of each key.
const hottest = new Map<string, { units: number; second: number }>();
const perTraceByKind = new Map<string, number>();
for (const [id, units] of unitsPerKeySecond) {
  const [second, pk] = id.split('|') as [string, string];
  const seen = hottest.get(pk);
  if (!seen || units > seen.units) hottest.set(pk, { units, second: Number(second) });
  const kind = keyKind(pk);
  perTraceByKind.set(kind, (perTraceByKind.get(kind) ?? 0) + units / TOTAL);
}
function keyKind(pk: string): string {
  if (pk.startsWith('EV#')) return 'raw event';
  if (pk.startsWith('RM#')) return 'minute rollup';
  if (pk.startsWith('RH#')) return 'hour rollup';
  if (pk.startsWith('RE#')) return 'endpoint minute';
  if (pk.startsWith('IDEM#')) return 'idempotency';
  if (pk.startsWith('CV#')) return 'late versions';
  return 'other';
}
const ranked = [...hottest].sort((a, b) => b[1].units - a[1].units);
console.log(
  `\nwrite units per partition key per second, traces stamped at ${RATE.toLocaleString()}/s ` +
    `(${seconds} s of traffic; DynamoDB allows about ${KEY_LIMIT_WU.toLocaleString()} per key):`,
);
for (const [pk, { units, second }] of ranked.slice(0, 8)) {
  const verdict = units <= KEY_LIMIT_WU ? 'ok' : 'OVER';
  console.log(
    `  ${pk.padEnd(30)} ${keyKind(pk).padEnd(14)} ${units.toFixed(0).padStart(7)} WU/s (second ${second})  ${verdict}`,
  );
}
for (const kind of [
  'raw event',
  'minute rollup',
  'hour rollup',
  'endpoint minute',
  'late versions',
  'idempotency',
  'other',
]) {
  const keys = ranked.filter(([pk]) => keyKind(pk) === kind);
  const top = keys[0]?.[1].units ?? 0;
  console.log(
    `  ${kind.padEnd(14)} keys ${String(keys.length).padStart(5)}, hottest ${top.toFixed(0).padStart(6)} WU/s, ` +
      `${(perTraceByKind.get(kind) ?? 0).toFixed(3)} WU per trace: ${top <= KEY_LIMIT_WU ? 'under' : 'OVER'} the per-key limit`,
  );
}

// OTLP/HTTP: protobuf against JSON, in a section of its own.
await otlpEncodingsBench({
  handler: handler as never,
  apiKey: KEY,
  spans: Number(process.env.OTLP_SPANS ?? 20_000),
});

resetClients();
await store.close();
