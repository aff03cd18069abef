/**
 * The event a probe stores is built from its typed outcome (eventFromOutcome);
 * it used to be read back from the probe's span (eventFromSpan, still the
 * OTLP ingestion mapping). For every probe, answered and failed, the two
 * agree field for field.
 */
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS } from '../../infra/local/simulator/faults.js';
import type { Simulator } from '../../infra/local/simulator.js';
import { startSimulator } from '../../test/helpers.js';
import { type Config, PROBE_KEYS, type ProbeKey, parseConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { eventFromSpan } from '../telemetry/span-event.js';
import { PROBES } from './registry.js';
import { type ProbeClient, probeClient, runProbe } from './runner.js';
import { createTimedFetch } from './timed-fetch.js';

let sim: Simulator;
let config: Config;

beforeAll(async () => {
  sim = await startSimulator({ latency: 'none' });
  config = parseConfig({
    OPENAI_BASE_URL: sim.url,
    PROBE_ENDPOINTS: [...PROBE_KEYS].join(','),
    PROBE_HEAVY: '1',
    PROBE_REGION: 'eu-test-1',
  });
});
afterAll(() => sim.close());

/** A client whose requests all carry the simulator's `x-sim-fault` header. */
function faultyClient(fault: string, baseURL = sim.url): ProbeClient {
  const timed = createTimedFetch();
  return {
    client: new OpenAI({
      apiKey: 'sim',
      baseURL,
      maxRetries: 0,
      fetch: timed.fetch,
      ...(fault ? { defaultHeaders: { 'x-sim-fault': fault } } : {}),
    }),
    timed,
  };
}

/** Runs the probe and checks its event against the span mapping's; returns the event. */
async function sameAsSpanMapping(key: ProbeKey, client: ProbeClient, timeoutMs = 5000): Promise<TraceEvent> {
  const { event, span } = await runProbe(PROBES[key], { config, probeClient: client, timeoutMs });
  expect(event).toStrictEqual(eventFromSpan(span, { source: 'probe' }));
  // Same fields in the same order, so the stored item is the same too.
  expect(JSON.stringify(event)).toBe(JSON.stringify(eventFromSpan(span, { source: 'probe' })));
  return event;
}

describe('eventFromOutcome equals eventFromSpan on the probe span', () => {
  it.each([...PROBE_KEYS])('%s answered', async (key) => {
    const event = await sameAsSpanMapping(key, await probeClient(config));
    expect(event).toMatchObject({ endpoint: key, ok: true, status: 200 });
  });

  const faults = [...FAULTS].filter((fault) => fault !== 'slow');
  it.each(
    faults.flatMap((fault) =>
      (['chat', 'chat_stream', 'embeddings', 'models'] as const).map((key): [string, ProbeKey] => [
        fault,
        key,
      ]),
    ),
  )('forced %s on %s', async (fault, key) => {
    const client = faultyClient(fault);
    const event = await sameAsSpanMapping(key, client, 1000);
    expect(event.ok).toBe(false);
    expect(event.errorType).toBeDefined();
    client.timed.close();
  });

  it('a slow reply cut at the call timeout', async () => {
    const client = faultyClient('slow');
    const event = await sameAsSpanMapping('chat', client, 200);
    expect(event).toMatchObject({ ok: false, errorType: 'timeout' });
    client.timed.close();
  });

  it.each([
    [{ serverErrorRate: 1 }, 'server_error'],
    [{ rateLimitRate: 1 }, 'rate_limited'],
    [{ malformedRate: 1 }, 'invalid_response'],
  ] as const)('rate faults set on the simulator: %o', async (faults, errorType) => {
    try {
      sim.setFaults(faults);
      const event = await sameAsSpanMapping('responses', await probeClient(config));
      expect(event).toMatchObject({ ok: false, errorType });
    } finally {
      sim.setFaults({ serverErrorRate: 0, rateLimitRate: 0, malformedRate: 0 });
    }
  });

  it('a refused connection (no response, no timing)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const client = faultyClient('', `http://127.0.0.1:${port}/v1`);
    const event = await sameAsSpanMapping('models', client, 2000);
    expect(event).toMatchObject({ ok: false, errorType: 'network' });
    client.timed.close();
  });
});
