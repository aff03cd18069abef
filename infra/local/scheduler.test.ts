import type { ScheduledEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Scheduler, startScheduler } from './scheduler.js';

/**
 * Every test runs on fake timers and a fake Date: ticks happen exactly when the
 * test advances time, so the counts below are exact on any machine, however
 * loaded, instead of "at least" counts across real sleeps.
 */
const START = 1_700_000_000_000; // a multiple of every interval used below

/** A promise a test resolves when it chooses: stands in for a job's long-running work. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function useFakeClock(at = START): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(at);
}

describe('startScheduler', () => {
  it('fires jobs with an EventBridge scheduled event', async () => {
    useFakeClock();
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
    await vi.advanceTimersByTimeAsync(150);
    await scheduler.stop();

    // One run per tick, each fired at its tick and stamped with it.
    expect(received.map(({ at }) => at)).toEqual([START + 50, START + 100, START + 150]);
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
      // EventBridge times are whole seconds in ISO 8601: the tick's time, cut to the second.
      expect(event.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(Date.parse(event.time)).toBe(Math.floor(at / 1000) * 1000);
    }
    expect(new Set(received.map(({ event }) => event.id)).size).toBe(received.length);
  });

  it('aligns ticks to multiples of the interval', async () => {
    useFakeClock(1_700_000_000_123);
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
    useFakeClock();
    const fast: number[] = [];
    const slow: number[] = [];
    scheduler = startScheduler([
      { name: 'fast', intervalMs: 50, run: async () => void fast.push(Date.now()) },
      { name: 'slow', intervalMs: 100, run: async () => void slow.push(Date.now()) },
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    await scheduler.stop();

    // Exactly one run per boundary of each job's own interval.
    expect(fast).toEqual(Array.from({ length: 20 }, (_, i) => START + (i + 1) * 50));
    expect(slow).toEqual(Array.from({ length: 10 }, (_, i) => START + (i + 1) * 100));
  });

  it('does not run a job again while its previous run is still going', async () => {
    useFakeClock();
    let active = 0;
    let maxActive = 0;
    const runs: number[] = [];
    const otherRuns: number[] = [];
    let release = gate();
    scheduler = startScheduler([
      {
        name: 'slow-run',
        intervalMs: 50,
        run: async () => {
          runs.push(Date.now());
          active++;
          maxActive = Math.max(maxActive, active);
          await release.promise;
          active--;
        },
      },
      // The skip is per job: another job keeps its own rate.
      { name: 'other', intervalMs: 50, run: async () => void otherRuns.push(Date.now()) },
    ]);

    // The first run starts at the first tick and is still going at the next three.
    await vi.advanceTimersByTimeAsync(200);
    expect(runs).toEqual([START + 50]);
    expect(active).toBe(1);
    expect(otherRuns).toEqual([START + 50, START + 100, START + 150, START + 200]);

    // Once it has finished, the next tick runs the job again (and only that tick).
    release.open();
    release = gate();
    await vi.advanceTimersByTimeAsync(50);
    expect(runs).toEqual([START + 50, START + 250]);
    release.open();
    await vi.advanceTimersByTimeAsync(50);
    expect(runs).toEqual([START + 50, START + 250, START + 300]);

    await scheduler.stop();
    expect(maxActive).toBe(1);
    expect(active).toBe(0);
    expect(otherRuns).toHaveLength(6);
  });

  it('keeps firing a job whose runs fail', async () => {
    useFakeClock();
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
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toBe(4);
    await scheduler.stop();
  });

  it('stop() waits for the run in progress, and nothing runs after it', async () => {
    useFakeClock();
    let started = 0;
    let finished = 0;
    const release = gate();
    scheduler = startScheduler([
      {
        name: 'long',
        intervalMs: 50,
        run: async () => {
          started++;
          await release.promise;
          finished++;
        },
      },
    ]);
    await vi.advanceTimersByTimeAsync(50);
    expect(started).toBe(1);

    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    // However long the run takes, stop() does not return before it ends.
    await vi.advanceTimersByTimeAsync(500);
    expect(stopped).toBe(false);
    expect(finished).toBe(0);

    release.open();
    await stopping;
    expect(finished).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(started).toBe(1);
    expect(finished).toBe(1);
  });

  it('stop() before the first tick runs nothing', async () => {
    useFakeClock();
    const run = vi.fn(async () => undefined);
    scheduler = startScheduler([{ name: 'never', intervalMs: 50, run }]);
    await scheduler.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(run).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
