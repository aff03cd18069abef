import { setTimeout as sleep } from 'node:timers/promises';
import type { ScheduledEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Scheduler, startScheduler } from './scheduler.js';

/** Polls until `condition` holds (fails after `timeoutMs`). */
async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await sleep(5);
  }
}

/** Interval boundaries (multiples of `intervalMs`) in the window (from, to]. */
const boundaries = (from: number, to: number, intervalMs: number) =>
  Math.floor(to / intervalMs) - Math.floor(from / intervalMs);

let scheduler: Scheduler | undefined;
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await scheduler?.stop();
  scheduler = undefined;
});

describe('startScheduler', () => {
  it('fires jobs with an EventBridge scheduled event', async () => {
    const received: { event: ScheduledEvent; at: number }[] = [];
    scheduler = startScheduler(
      [
        {
          name: 'probe',
          intervalMs: 50,
          run: async (event) => {
            received.push({ event, at: Date.now() });
          },
        },
      ],
      'eu-west-1',
    );
    await waitFor(() => received.length >= 3);
    await scheduler.stop();

    for (const { event, at } of received) {
      expect(event).toMatchObject({
        version: '0',
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        account: expect.stringMatching(/^\d{12}$/),
        region: 'eu-west-1',
        detail: {},
      });
      expect(event.resources).toHaveLength(1);
      expect(event.resources[0]).toContain('probe');
      expect(event.resources[0]).toMatch(/^arn:aws:events:eu-west-1:\d{12}:rule\/probe/);
      // EventBridge times are whole seconds in ISO 8601, at or before the tick.
      expect(event.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const time = Date.parse(event.time);
      expect(time % 50).toBe(0);
      // Node timers may fire a millisecond before their time.
      expect(time).toBeLessThanOrEqual(at + 5);
      expect(at - time).toBeLessThan(2000);
    }
    expect(new Set(received.map(({ event }) => event.id)).size).toBe(received.length);
  });

  it('aligns ticks to multiples of the interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(1_700_000_000_123);
    const times: number[] = [];
    scheduler = startScheduler([
      {
        name: 'aligned',
        intervalMs: 3000,
        run: async (event) => {
          times.push(Date.parse(event.time));
        },
      },
    ]);
    await vi.advanceTimersByTimeAsync(12_000);
    expect(times).toEqual([1_700_000_001_000, 1_700_000_004_000, 1_700_000_007_000, 1_700_000_010_000]);
    for (const time of times) expect(time % 3000).toBe(0);
  });

  it('fires each tick once even when a timer fires a little early', async () => {
    // Node timers and Date.now() use different clocks: a timer regularly fires
    // up to 1 ms before Date.now() reaches the time it was set for.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let wall = 1_700_000_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => wall);
    const times: number[] = [];
    scheduler = startScheduler([
      {
        name: 'early',
        intervalMs: 1000,
        run: async (event) => {
          times.push(Date.parse(event.time));
        },
      },
    ]);
    wall += 999;
    await vi.advanceTimersByTimeAsync(1000);
    expect(times).toEqual([1_700_000_001_000]);
    wall += 1;
    await vi.advanceTimersByTimeAsync(1);
    expect(times).toEqual([1_700_000_001_000]);
    wall += 999;
    await vi.advanceTimersByTimeAsync(1000);
    expect(times).toEqual([1_700_000_001_000, 1_700_000_002_000]);
  });

  it('fires jobs at their own rates', async () => {
    let fast = 0;
    let slow = 0;
    const from = Date.now();
    scheduler = startScheduler([
      { name: 'fast', intervalMs: 50, run: async () => void fast++ },
      { name: 'slow', intervalMs: 100, run: async () => void slow++ },
    ]);
    await sleep(1000);
    await scheduler.stop();
    const to = Date.now();

    // Never more than one run per boundary; a loaded machine may skip some.
    expect(fast).toBeLessThanOrEqual(boundaries(from, to, 50));
    expect(slow).toBeLessThanOrEqual(boundaries(from, to, 100));
    expect(fast).toBeGreaterThanOrEqual(6);
    expect(slow).toBeGreaterThanOrEqual(3);
    expect(fast).toBeGreaterThan(slow);
  });

  it('does not run a job again while its previous run is still going', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    let otherRuns = 0;
    scheduler = startScheduler([
      {
        name: 'slow-run',
        intervalMs: 50,
        run: async () => {
          runs++;
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(150);
          active--;
        },
      },
      // The skip is per job: another job keeps its own rate.
      { name: 'other', intervalMs: 50, run: async () => void otherRuns++ },
    ]);
    await waitFor(() => runs >= 3, 4000);
    await scheduler.stop();
    expect(maxActive).toBe(1);
    expect(active).toBe(0);
    expect(otherRuns).toBeGreaterThan(runs);
  });

  it('keeps firing a job whose runs fail', async () => {
    let calls = 0;
    scheduler = startScheduler([
      {
        name: 'failing',
        intervalMs: 50,
        run: async () => {
          calls++;
          throw new Error('probe failed');
        },
      },
    ]);
    await waitFor(() => calls >= 4);
    await scheduler.stop();
  });

  it('stop() waits for the run in progress, and nothing runs after it', async () => {
    let started = 0;
    let finished = 0;
    scheduler = startScheduler([
      {
        name: 'long',
        intervalMs: 50,
        run: async () => {
          started++;
          await sleep(200);
          finished++;
        },
      },
    ]);
    await waitFor(() => started === 1);
    const stopping = scheduler.stop();
    expect(finished).toBe(0);
    await stopping;
    expect(finished).toBe(1);
    await sleep(200);
    expect(started).toBe(1);
    expect(finished).toBe(1);
  });

  it('stop() before the first tick runs nothing', async () => {
    const run = vi.fn(async () => undefined);
    scheduler = startScheduler([{ name: 'never', intervalMs: 50, run }]);
    await scheduler.stop();
    await sleep(150);
    expect(run).not.toHaveBeenCalled();
  });
});
