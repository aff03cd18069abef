/**
 * What the probe harness costs on top of the HTTP request it measures, and
 * how many DynamoDB writes a probe makes. Against the simulator with no
 * latency on loopback, so the figures are the harness's own overhead.
 *
 * (a) bare request: native fetch GET /models with an Authorization header, body read;
 * (b) probe harness: runProbe(PROBES.models) through the SDK, timed fetch,
 *     span creation and the outcome → event mapping (no storage).
 * (a) and (b) are tinybench tasks (warm-up, then at least `iterations`
 * samples each); the overhead is the difference of their medians.
 * (c) write requests per probe: runProbeTick (PROBE_MODE=all) against a local
 *     dynalite/s3rver, stored.writeRequests / events.length: per probe a claim,
 *     two rollup updates and two marker clean-ups, plus one commit per tick
 *     (a BatchWrite of up to 25 events), see shared/store/events.ts.
 *
 * Run: npx tsx bench/probe-overhead.ts [iterations]
 */

import { Bench } from 'tinybench';
import { startSimulator } from '../infra/local/simulator.js';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { resetClients } from '../shared/aws.js';
import { parseConfig, resetConfig } from '../shared/config.js';
import { PROBES } from '../shared/probes/registry.js';
import { probeClient, runProbe, runProbeTick } from '../shared/probes/runner.js';

const ITERATIONS = Number(process.argv[2] ?? 300);
const TARGET_MS = 2;

const ms = (value: number) => `${value.toFixed(3).padStart(8)} ms`;

const sim = await startSimulator({ latency: 'none', host: '127.0.0.1' });
const store = await startLocalStore({ dataDir: undefined });
let exitCode = 0;
try {
  const config = parseConfig({ OPENAI_BASE_URL: sim.url, LOG_LEVEL: 'SILENT' });
  const client = await probeClient(config);
  const authorization = `Bearer ${config.openaiApiKey ?? 'simulated'}`;

  const bare = async (): Promise<void> => {
    const response = await fetch(`${sim.url}/models`, { headers: { authorization } });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`bare request answered ${response.status}`);
  };
  const harness = async (): Promise<void> => {
    const { event } = await runProbe(PROBES.models, {
      config,
      probeClient: client,
      timeoutMs: config.httpTimeoutMs,
    });
    if (!event.ok) throw new Error(`probe failed: ${event.errorType} ${event.errorMessage ?? ''}`);
  };

  // Warm-up (tinybench's) covers JIT, both keep-alive connection pools and the tracer provider.
  const bench = new Bench({ iterations: ITERATIONS, time: 0, warmupIterations: 50, throws: true })
    .add('(a) bare fetch GET /models', bare)
    .add('(b) runProbe(models)', harness);
  await bench.run();
  const latency = (name: string) => {
    const result = bench.getTask(name)?.result;
    if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state ?? 'not run'}`);
    return result.latency;
  };
  const a = latency('(a) bare fetch GET /models');
  const b = latency('(b) runProbe(models)');

  console.log(`probe overhead, tinybench: ${ITERATIONS} samples per task after 50 warm-up runs`);
  console.log(`simulator ${sim.url} (latency: none), Node ${process.version}\n`);
  console.log(`                              median          p99      samples`);
  console.log(`(a) bare fetch GET /models  ${ms(a.p50)}  ${ms(a.p99)}  ${a.samplesCount}`);
  console.log(`(b) runProbe(models)        ${ms(b.p50)}  ${ms(b.p99)}  ${b.samplesCount}`);
  const medianExtra = b.p50 - a.p50;
  console.log(
    `median extra latency ${medianExtra.toFixed(3)} ms (target ≤ ${TARGET_MS} ms): ${medianExtra <= TARGET_MS ? 'OK' : 'OVER TARGET'}`,
  );
  if (medianExtra > TARGET_MS) exitCode = 1;

  // (c) Write requests per probe.
  const tableName = `bench-${Date.now().toString(36)}`;
  await ensureSchema({
    dynamodbEndpoint: store.dynamodbEndpoint,
    s3Endpoint: store.s3Endpoint,
    tableName,
    buckets: [tableName],
  });
  process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
  process.env.S3_ENDPOINT = store.s3Endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.TABLE_NAME = tableName;
  process.env.ARTIFACTS_BUCKET = tableName;
  resetConfig();
  resetClients();
  const tickConfig = parseConfig({
    OPENAI_BASE_URL: sim.url,
    PROBE_MODE: 'all',
    TABLE_NAME: tableName,
    ARTIFACTS_BUCKET: tableName,
    DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
    S3_ENDPOINT: store.s3Endpoint,
  });
  console.log(`\nwrite requests per probe (PROBE_MODE=all, ${tickConfig.probeEndpoints.join(', ')}):`);
  const ticks = 3;
  let totalWrites = 0;
  let totalEvents = 0;
  let expectedWrites = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const start = performance.now();
    const result = await runProbeTick({ config: tickConfig, tickTime: Date.now(), budgetMs: 30_000 });
    const elapsed = performance.now() - start;
    const failed = result.events.filter((event) => !event.ok);
    totalWrites += result.stored.writeRequests;
    totalEvents += result.events.length;
    expectedWrites += 5 * result.events.length + Math.ceil(result.events.length / 25);
    console.log(
      `  tick ${tick + 1}: ${result.events.length} events (${failed.length} failed, ${result.skipped.length} skipped), ` +
        `${result.stored.stored} stored, ${result.stored.writeRequests} write requests → ` +
        `${(result.stored.writeRequests / result.events.length).toFixed(2)} per probe, tick ${elapsed.toFixed(1)} ms`,
    );
  }
  const perProbe = totalWrites / totalEvents;
  const expected = expectedWrites / totalEvents;
  console.log(`  overall: ${perProbe.toFixed(2)} write requests per probe (expected ${expected.toFixed(2)})`);
  if (totalWrites !== expectedWrites) exitCode = 1;
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  // Close everything that holds the event loop open: pooled sockets, SDK clients, servers.
  const closing = parseConfig({ OPENAI_BASE_URL: sim.url });
  (await probeClient(closing)).timed.close();
  resetClients();
  await sim.close();
  await store.close();
}
process.exitCode = exitCode;
