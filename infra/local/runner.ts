/**
 * The whole product on one machine: dynalite and s3rver, the OpenAI simulator
 * when no key is set, the gateway in front of the route table's handlers, and
 * the scheduler firing the scheduled functions. `npm start` runs it; the
 * end-to-end tests start it the same way.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resetClients } from '../../shared/aws.js';
import { type Config, parseConfig, resetConfig } from '../../shared/config.js';
import { seedDeclaredIncidents } from '../../shared/incidents/store.js';
import { switchLogSimulator } from '../../shared/logs/simulator.js';
import { FUNCTIONS, functionSpec, ROUTES, scheduleIntervalMs } from '../../shared/routes.js';
import { type LocalCursorSecret, localCursorSecret } from './cursor-secret.js';
import { type Gateway, startGateway } from './gateway.js';
import { type AnyHandler, installAwsLambdaGlobal, lambdaContext } from './lambda.js';
import { type Scheduler, startScheduler } from './scheduler.js';
import { type Simulator, startSimulator } from './simulator.js';
import { ensureSchema, type LocalStore, startLocalStore } from './store.js';

export const PROJECT_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export interface LocalStack {
  config: Config;
  gateway: Gateway;
  store: LocalStore;
  simulator: Simulator | undefined;
  scheduler: Scheduler;
  /** What was created on this start (nothing on a restart over existing data). */
  created: { table: boolean; buckets: string[] };
  /** Where CURSOR_SECRET came from: the environment, or the data directory (infra/local/cursor-secret.ts). */
  cursorSecret: 'environment' | LocalCursorSecret['origin'];
  stop(): Promise<void>;
}

const handlers = new Map<string, Promise<AnyHandler>>();

/** Imports a function's handler once, as Lambda does per cold start. */
export function loadHandler(functionName: string): Promise<AnyHandler> {
  let loaded = handlers.get(functionName);
  if (!loaded) {
    functionSpec(functionName); // unknown names fail here, not as a missing file
    const file = resolve(PROJECT_ROOT, 'functions', functionName, 'handler.ts');
    loaded = import(file).then((module: { handler?: AnyHandler }) => {
      if (typeof module.handler !== 'function') throw new Error(`${file} exports no handler`);
      return module.handler;
    });
    handlers.set(functionName, loaded);
  }
  return loaded;
}

/**
 * Starts everything from the environment `env` (which it updates with the
 * endpoints it starts, as the stack sets them on Lambda). Throws ConfigError on bad configuration.
 * `unscheduled`: scheduled functions the scheduler leaves alone (a test that
 * writes what they would, such as alert states, keeps them from overwriting it).
 */
export async function startLocalStack(
  env: NodeJS.ProcessEnv = process.env,
  options: { unscheduled?: readonly string[] } = {},
): Promise<LocalStack> {
  const initial = parseConfig(env);
  const dataDir = initial.dataDir ? resolve(PROJECT_ROOT, initial.dataDir) : undefined;
  // Cursors are signed with a real key: the configured one, else one generated once and kept with the data.
  let cursorSecret: LocalStack['cursorSecret'] = 'environment';
  if (!initial.cursorSecret) {
    const local = localCursorSecret(dataDir);
    env.CURSOR_SECRET = local.secret;
    cursorSecret = local.origin;
  }
  const store = await startLocalStore({ dataDir, host: '127.0.0.1' });
  const created = await ensureSchema({
    dynamodbEndpoint: store.dynamodbEndpoint,
    s3Endpoint: store.s3Endpoint,
    tableName: initial.tableName,
    buckets: [initial.artifactsBucket],
  });

  let simulator: Simulator | undefined;
  if (!initial.openaiApiKey && !initial.openaiBaseUrl) {
    simulator = await startSimulator({
      latency: initial.simulator.latency,
      faults: {
        serverErrorRate: initial.simulator.serverErrorRate,
        rateLimitRate: initial.simulator.rateLimitRate,
        slowRate: initial.simulator.slowRate,
        // Slow replies must outlast the probe timeout to show up as timeouts.
        slowMs: initial.httpTimeoutMs + 2000,
        dropRate: initial.simulator.dropRate,
        malformedRate: initial.simulator.malformedRate,
      },
    });
    env.OPENAI_BASE_URL = simulator.url;
  }
  env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
  env.S3_ENDPOINT = store.s3Endpoint;
  env.AWS_REGION ??= 'us-east-1';
  if (env !== process.env) Object.assign(process.env, env);
  resetConfig();
  resetClients();
  const config = parseConfig(env);
  // An example declared incident for a fresh local bucket (never overwrites one already there).
  await seedDeclaredIncidents({
    bucket: config.artifactsBucket,
    file: resolve(PROJECT_ROOT, 'web/public/incidents.json'),
  });

  // LOG_SIM_ENABLED=1 starts the log simulator on boot, even over data where it was stopped.
  if (config.logSimEnabled) await switchLogSimulator(true, 'config');

  installAwsLambdaGlobal();
  const gateway = await startGateway({
    host: config.host,
    port: config.port,
    routes: ROUTES,
    loadHandler,
    timeoutSec: (name) => functionSpec(name).timeoutSec,
    webDir: resolve(PROJECT_ROOT, 'web/dist'),
  });

  const scheduler = startScheduler(
    FUNCTIONS.filter((f) => f.schedule && !options.unscheduled?.includes(f.name)).map((f) => ({
      name: f.name,
      intervalMs: scheduleIntervalMs(
        f.schedule as NonNullable<typeof f.schedule>,
        config[f.schedule as NonNullable<typeof f.schedule>],
      ),
      run: async (event) =>
        (await loadHandler(f.name))(event as never, lambdaContext(f.name, f.timeoutSec) as never),
    })),
    config.probeRegion,
  );

  return {
    config,
    gateway,
    store,
    simulator,
    scheduler,
    created: { table: created.tableCreated, buckets: created.bucketsCreated },
    cursorSecret,
    async stop() {
      await scheduler.stop();
      await gateway.close();
      await simulator?.close();
      await store.close();
    },
  };
}

const CURSOR_KEY_ORIGIN: Record<LocalStack['cursorSecret'], string> = {
  environment: 'CURSOR_SECRET (set)',
  created: 'generated, kept in the data directory (cursor-secret)',
  kept: 'from the data directory (cursor-secret)',
  memory: 'generated for this run (ENABLE_DB=0)',
};

/** The start-up banner: where things are and what is being probed. Never prints secrets. */
export function banner(stack: LocalStack, startedInMs: number): string {
  const { config } = stack;
  const upstream =
    config.upstream === 'real'
      ? `OpenAI API at ${config.openaiBaseUrl} (real key set)`
      : `simulator at ${config.openaiBaseUrl} (SIMULATED data)`;
  const scheduled = FUNCTIONS.filter((f) => f.schedule).map((f) => f.name);
  return [
    `openai-status is running (the local stack started in ${(startedInMs / 1000).toFixed(1)} s)`,
    `  dashboard   ${stack.gateway.url}/`,
    `  health      ${stack.gateway.url}/health`,
    `  upstream    ${upstream}`,
    `  probes      ${config.probeEndpoints.join(', ')} (${config.probeMode}, every ${config.probeIntervalSec} s, region ${config.probeRegion})`,
    `  scheduled   ${scheduled.length ? scheduled.join(', ') : '(none yet)'}`,
    `  data        ${stack.store.dataDir ?? 'in memory (ENABLE_DB=0): lost on exit'}`,
    `  dynamodb    ${stack.store.dynamodbEndpoint} (table ${config.tableName})`,
    `  s3          ${stack.store.s3Endpoint} (bucket ${config.artifactsBucket})`,
    `  ingest key  ${config.ingestApiKey ? 'set' : 'not set: ingestion answers 403'}`,
    `  logs        simulator ${config.logSimEnabled ? 'on (LOG_SIM_ENABLED=1)' : 'off until GET /logs/sim/start'}, embedder ${config.openaiApiKey ? config.embeddingModel : 'local hashing (semantic: false)'}`,
    `  cursor key  ${CURSOR_KEY_ORIGIN[stack.cursorSecret]}`,
    'Press Ctrl-C to stop.',
  ].join('\n');
}
