/**
 * Records the spans that real OpenAI instrumentations emit, as OTLP/JSON
 * request bodies, for the ingestion tests (functions/ingest/otlp.test.ts).
 * The instrumentations are not dependencies of this project: install them in
 * a scratch folder and point RECORD_DIR at it.
 *
 *   mkdir /tmp/rec && cd /tmp/rec && npm init -y && npm install openai@6 \
 *     @opentelemetry/api@1.9 @opentelemetry/sdk-trace-node@2 @opentelemetry/instrumentation \
 *     @opentelemetry/otlp-transformer @opentelemetry/instrumentation-openai \
 *     @opentelemetry/instrumentation-undici @arizeai/openinference-instrumentation-openai \
 *     @traceloop/instrumentation-openai
 *   RECORD_DIR=/tmp/rec npx tsx test/otlp-fixtures/record.ts   (RECORD_ONLY=traceloop,undici: some)
 *
 * traceloop-0.19.json holds the older OpenLLMetry names (`llm.request.type`,
 * `gen_ai.usage.prompt_tokens`): openai@4 and @traceloop/instrumentation-openai@0.19.0
 * in another scratch folder, then RECORD_ONLY=traceloop RECORD_NAME=traceloop-0.19.
 *
 * Each instrumentation runs in a process of its own (instrumentations patch
 * modules process-wide) against the simulator, which is reached under the
 * name api.openai.com (a DNS override in the recording process), so the
 * spans name the real API host. Every fixture names the packages and
 * versions that made it; nothing in a fixture is edited by hand.
 */
import { spawn } from 'node:child_process';
import dns from 'node:dns';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../../infra/local/simulator.js';

const here = dirname(fileURLToPath(import.meta.url));
const recordDir = process.env.RECORD_DIR;
if (!recordDir) throw new Error('set RECORD_DIR to the scratch folder holding the instrumentations');
const scratch = createRequire(join(recordDir, 'package.json'));

interface Recorder {
  /** Fixture file name. */
  name: string;
  /** The packages whose spans these are. */
  packages: string[];
  setup: (req: NodeJS.Require) => unknown[];
}

const RECORDERS: Recorder[] = [
  {
    name: 'otel-genai',
    packages: ['@opentelemetry/instrumentation-openai'],
    setup: (req) => [new (req('@opentelemetry/instrumentation-openai').OpenAIInstrumentation)()],
  },
  {
    // A GenAI span with its HTTP child: the status of a call comes from the child.
    name: 'otel-genai-with-undici',
    packages: ['@opentelemetry/instrumentation-openai', '@opentelemetry/instrumentation-undici'],
    setup: (req) => [
      new (req('@opentelemetry/instrumentation-openai').OpenAIInstrumentation)(),
      new (req('@opentelemetry/instrumentation-undici').UndiciInstrumentation)({
        headersToSpanAttributes: { responseHeaders: ['x-request-id', 'openai-processing-ms'] },
      }),
    ],
  },
  {
    name: 'openinference',
    packages: ['@arizeai/openinference-instrumentation-openai'],
    setup: (req) => {
      const { OpenAIInstrumentation } = req('@arizeai/openinference-instrumentation-openai');
      const instrumentation = new OpenAIInstrumentation();
      instrumentation.manuallyInstrument(req('openai'));
      return [instrumentation];
    },
  },
  {
    name: 'traceloop',
    packages: ['@traceloop/instrumentation-openai'],
    setup: (req) => {
      const { OpenAIInstrumentation } = req('@traceloop/instrumentation-openai');
      const instrumentation = new OpenAIInstrumentation({ enrichTokens: false });
      // Its manual entry point takes the class, where openinference's takes the module.
      instrumentation.manuallyInstrument(req('openai').OpenAI);
      return [instrumentation];
    },
  },
  {
    name: 'undici',
    packages: ['@opentelemetry/instrumentation-undici'],
    setup: (req) => [
      new (req('@opentelemetry/instrumentation-undici').UndiciInstrumentation)({
        headersToSpanAttributes: { responseHeaders: ['x-request-id', 'openai-processing-ms'] },
      }),
    ],
  },
];

const version = (name: string): string => {
  // Some packages do not export package.json: read it from the folder their main file is in.
  let dir = dirname(scratch.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (pkg.name === name) return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json for ${name}`);
    dir = up;
  }
};

/** In the child: instrument, make the calls, write the fixture. */
async function record(recorder: Recorder, port: number): Promise<void> {
  const original = dns.lookup;
  // The simulator answers as api.openai.com, so spans carry the real host name.
  (dns as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) =>
    (original as (...args: unknown[]) => void)(host === 'api.openai.com' ? '127.0.0.1' : host, ...rest);

  const { NodeTracerProvider } = scratch('@opentelemetry/sdk-trace-node');
  const { InMemorySpanExporter, SimpleSpanProcessor } = scratch('@opentelemetry/sdk-trace-base');
  const { registerInstrumentations } = scratch('@opentelemetry/instrumentation');
  const { JsonTraceSerializer } = scratch('@opentelemetry/otlp-transformer');
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  registerInstrumentations({ instrumentations: recorder.setup(scratch) });
  const OpenAI = scratch('openai');
  const client = new OpenAI({
    apiKey: 'sk-recording',
    baseURL: `http://api.openai.com:${port}/v1`,
    maxRetries: 0,
  });

  const calls: string[] = [];
  const call = async (label: string, run: () => Promise<unknown>) => {
    calls.push(label);
    try {
      await run();
    } catch {}
  };
  await call('chat', () =>
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  );
  await call('chat stream (include_usage)', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count to five' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream);
  });
  await call('responses', () => client.responses.create({ model: 'gpt-4.1-mini', input: 'hello' }));
  await call('responses stream', async () => {
    const stream = await client.responses.create({ model: 'gpt-4.1-mini', input: 'count', stream: true });
    for await (const _ of stream);
  });
  await call('embeddings', () =>
    client.embeddings.create({ model: 'text-embedding-3-small', input: 'record me' }),
  );
  await call('chat failing with 500', () =>
    client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'fail' }] },
      { headers: { 'x-sim-fault': '500' } },
    ),
  );
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  const request = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString('utf8'));
  const fixture = {
    recordedWith: Object.fromEntries(
      [...recorder.packages, 'openai', '@opentelemetry/sdk-trace-node'].map((p) => [p, version(p)]),
    ),
    node: process.version,
    calls,
    request,
  };
  writeFileSync(
    join(here, `${process.env.RECORD_NAME ?? recorder.name}.json`),
    `${JSON.stringify(fixture, null, 2)}\n`,
  );
  await provider.shutdown();
}

const [, , child, childPort] = process.argv;
if (child) {
  const recorder = RECORDERS.find((r) => r.name === child);
  if (!recorder) throw new Error(`unknown recorder ${child}`);
  await record(recorder, Number(childPort));
} else {
  const sim = await startSimulator({ latency: 5, port: 0 });
  try {
    const only = process.env.RECORD_ONLY?.split(',');
    for (const recorder of RECORDERS.filter((r) => !only || only.includes(r.name))) {
      // The simulator runs in this process: the child's calls reach it while this one waits on spawn.
      const result = await new Promise<{ status: number | null }>((resolve) => {
        const proc = spawn(
          process.execPath,
          [...process.execArgv, fileURLToPath(import.meta.url), recorder.name, String(sim.port)],
          {
            stdio: 'inherit',
            env: process.env,
          },
        );
        proc.on('exit', (status: number | null) => resolve({ status }));
      });
      console.log(`${recorder.name}: ${result.status === 0 ? 'recorded' : `failed (${result.status})`}`);
    }
  } finally {
    await sim.close();
  }
}
