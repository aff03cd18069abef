import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Simulator } from '../../infra/local/simulator.js';
import { logger } from '../../shared/logger.js';
import { invokeScheduled, setEnv, startSimulator, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

describe('probe function', () => {
  let sim: Simulator;
  let restore: () => void;
  beforeAll(async () => {
    sim = await startSimulator({ latency: 'none' });
    await useFreshStore();
    restore = setEnv({ OPENAI_BASE_URL: sim.url, PROBE_MODE: 'all', PROBE_ENDPOINTS: 'chat,models,files' });
  });
  afterAll(async () => {
    restore();
    await sim.close();
  });

  it('runs the tick of a scheduled event and reports it', async () => {
    const summary = await invokeScheduled(handler as never, { functionName: 'probe', time: Date.now() });
    expect(summary).toMatchObject({
      probes: ['chat', 'models', 'files'],
      ok: 3,
      failed: [],
      skipped: [],
      writeRequests: 22,
    });
  });

  it('reports failed calls as data, not as a failed invocation', async () => {
    sim.setFaults({ serverErrorRate: 1 });
    try {
      const summary = (await invokeScheduled(handler as never, {
        functionName: 'probe',
        time: Date.now(),
      })) as {
        ok: number;
        failed: string[];
      };
      expect(summary.ok).toBe(0);
      expect([...summary.failed].sort()).toEqual([
        'chat:server_error',
        'files:server_error',
        'models:server_error',
      ]);
    } finally {
      sim.setFaults({});
    }
  });

  it('fails the invocation, logged with its tick, when there is nothing to probe', async () => {
    const unset = setEnv({ OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined });
    const logged = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    try {
      const time = Date.UTC(2026, 10, 30, 12, 0);
      await expect(invokeScheduled(handler as never, { functionName: 'probe', time })).rejects.toThrow(
        /OPENAI_API_KEY is not set/,
      );
      expect(logged).toHaveBeenCalledWith(
        'scheduled invocation failed',
        // EventBridge's time format: whole seconds.
        expect.objectContaining({ tick: '2026-11-30T12:00:00Z' }),
      );
    } finally {
      logged.mockRestore();
      unset();
    }
  });
});
