/**
 * SLO_EXCLUDE_MAINTENANCE through /status: failures inside a maintenance
 * window count when the setting is off (the default) and not when it is on,
 * exactly, at minute edges, with overlapping windows taken out once and
 * windows of other endpoints leaving an endpoint alone; from compacted
 * rollups and from live ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as statusHandler } from '../../functions/status/handler.js';
import { traceEvents } from '../../test/fixtures.js';
import { invokeHttp, ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import { maintenanceSpans } from '../alerts/maintenance.js';
import type { MaintenanceWindow } from '../alerts/model.js';
import type { TraceEvent } from '../events/model.js';
import { deleteMaintenance, saveMaintenance } from '../store/alerts.js';
import { compactClosedPeriods } from '../store/compaction.js';
import { recordEvents } from '../store/events.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../store/keys.js';

const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);
/** 30 s into the minute T0 + 60: `window=60` covers the minutes T0 + 1 … T0 + 60. */
const NOW = T0 + 60 * MINUTE_MS + 30_000;
const at = (minute: number, ms = 0) => T0 + minute * MINUTE_MS + ms;
const ev = traceEvents('slo-mw');
const fail = { ok: false, status: 503, errorType: 'server_error' as const };

/** Chat: one good call a minute at minutes 1 … 60, and five failures around and inside [20, 30). */
const chatEvents: TraceEvent[] = [
  ...Array.from({ length: 60 }, (_, i) => ev({ ts: at(i + 1, 10_000), endpoint: 'chat' })),
  ev({ ts: at(20) - 1, endpoint: 'chat', ...fail }), // last ms before the window: counts
  ev({ ts: at(20), endpoint: 'chat', ...fail }), // first ms of the window: left out
  ev({ ts: at(25, 5000), endpoint: 'chat', ...fail }), // inside: left out
  ev({ ts: at(30) - 1, endpoint: 'chat', ...fail }), // last ms of the window: left out
  ev({ ts: at(30), endpoint: 'chat', ...fail }), // first ms after it: counts
];
/** Embeddings: one failure a minute at minutes 41 … 50, one good call a minute otherwise. */
const embeddingEvents: TraceEvent[] = Array.from({ length: 60 }, (_, i) =>
  ev({ ts: at(i + 1, 20_000), endpoint: 'embeddings', ...(i + 1 > 40 && i + 1 <= 50 ? fail : {}) }),
);

const deploy: MaintenanceWindow = {
  id: 'deploy',
  title: 'Chat deploy',
  endpoints: ['chat'],
  start: at(20),
  end: at(30),
  updatedAt: T0,
};
/** Not on minute edges: it covers the minutes 42 … 47 wholly, 41 and 48 in part. */
const embeddingsWork: MaintenanceWindow = {
  id: 'emb',
  title: 'Embeddings work',
  endpoints: ['embeddings'],
  start: at(41, 30_000),
  end: at(48, 15_000),
  updatedAt: T0,
};
/** Every endpoint, daily 06:25 for 10 minutes: overlaps `deploy` on 25 … 29. */
const daily: MaintenanceWindow = {
  id: 'daily',
  title: 'Daily',
  start: T0 - DAY_MS,
  recurrence: { every: 'day', at: '06:25', durationMinutes: 10 },
  updatedAt: T0,
};

let tableName: string;
/** Compact items the live run read (what compaction's bookkeeping costs before any period is compacted). */
let compactItemsBefore = 0;
let restoreClock: () => void;
const restoreEnv: (() => void)[] = [];

beforeAll(async () => {
  ({ tableName } = await useFreshStore());
  await recordEvents([...chatEvents, ...embeddingEvents], {
    tableName,
    retentionDays: 30,
    rollupRetentionDays: 400,
    now: NOW,
  });
  restoreClock = useClock(new ManualClock(NOW));
  await saveMaintenance(tableName, deploy);
  await saveMaintenance(tableName, embeddingsWork);
});
afterAll(() => {
  restoreClock();
  for (const restore of restoreEnv.reverse()) restore();
});

// biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON answers keep the assertions readable
type Body = Record<string, any>;
async function status(exclude: boolean | undefined): Promise<Body> {
  restoreEnv.push(
    setEnv({ SLO_EXCLUDE_MAINTENANCE: exclude === undefined ? undefined : exclude ? '1' : '0' }),
  );
  const res = await invokeHttp(statusHandler, { path: '/status', query: { window: 60 } });
  expect(res.statusCode).toBe(200);
  return res.json<Body>();
}
const endpoint = (body: Body, name: string) => body.endpoints.find((e: Body) => e.endpoint === name);

describe('maintenanceSpans', () => {
  it('keeps whole minutes only, and takes each minute once', () => {
    const spans = maintenanceSpans([deploy, embeddingsWork, daily], at(0), at(61));
    expect(
      spans.map((s) => [
        (s.from - T0) / MINUTE_MS,
        (s.to - T0) / MINUTE_MS,
        s.endpoints ? [...s.endpoints] : 'all',
      ]),
    ).toEqual([
      [20, 25, ['chat']],
      [25, 35, 'all'],
      [42, 48, ['embeddings']],
    ]);
  });
});

// Live first: compaction, once run, serves the closed periods of every later read.
describe.each([
  ['live', false],
  ['compacted', true],
])('/status from %s rollups', (_, compacted) => {
  beforeAll(async () => {
    // Runs until caught up (each run compacts a bounded number of minutes, oldest first).
    for (let run = 0; compacted && run < 40; run++) {
      const result = await compactClosedPeriods({
        tableName,
        retentionDays: 30,
        rollupRetentionDays: 400,
        now: NOW,
        lookbackMs: 2 * HOUR_MS,
        sources: ['probe'],
      });
      if (Object.values(result.minutes).every((n) => n === 0) && result.rebuilt === 0) break;
    }
  });

  it('counts maintenance by default, and says so', async () => {
    const body = await status(undefined);
    expect(body.slo.excludeMaintenance).toBe(false);
    expect(body.definitions.maintenance).toMatch(/^Counted \(SLO_EXCLUDE_MAINTENANCE=0/);
    const chat = endpoint(body, 'chat');
    expect(chat.slo).toMatchObject({ good: 60, valid: 65, maintenanceExcluded: 0 });
    expect(chat.slo.sli).toBeCloseTo(60 / 65, 12);
    // Everything is in the last hour: the burn rates are the window's, over a budget of 0.5 %.
    expect(chat.slo.burnRate['1h']).toBeCloseTo(5 / 65 / 0.005, 9);
    expect(chat.slo.burnRate['6h']).toBeCloseTo(5 / 65 / 0.005, 9);
    expect(endpoint(body, 'embeddings').slo).toMatchObject({ good: 50, valid: 60 });
    expect(body.overall.slo).toMatchObject({ good: 110, valid: 125, maintenanceExcluded: 0 });
  });

  it('leaves out exactly the minutes inside the windows when SLO_EXCLUDE_MAINTENANCE=1', async () => {
    const body = await status(true);
    expect(body.slo.excludeMaintenance).toBe(true);
    expect(body.definitions.maintenance).toMatch(/^Left out of the SLO/);
    const chat = endpoint(body, 'chat');
    // Minutes 20 … 29 held 10 good calls and 3 failures; the failures at 19:59.999 and 30:00 count.
    expect(chat.slo).toMatchObject({ good: 50, valid: 52, maintenanceExcluded: 13 });
    expect(chat.slo.sli).toBeCloseTo(50 / 52, 12);
    expect(chat.slo.errorBudgetRemaining).toBeCloseTo(1 - 2 / 52 / 0.005, 9);
    expect(chat.slo.burnRate['1h']).toBeCloseTo(2 / 52 / 0.005, 9);
    expect(chat.slo.burnRate['6h']).toBeCloseTo(2 / 52 / 0.005, 9);
    // Minutes 42 … 47 only: the failures of 41, 48, 49 and 50 count.
    expect(endpoint(body, 'embeddings').slo).toMatchObject({ good: 50, valid: 54, maintenanceExcluded: 6 });
    expect(body.overall.slo).toMatchObject({ good: 100, valid: 106, maintenanceExcluded: 19 });
    // Success rate and latency keep every execution.
    expect(chat).toMatchObject({ total: 65, ok: 60 });
    // The path under test was taken: compact items for the closed periods once compacted.
    if (compacted) expect(body.meta.compactItemsRead).toBeGreaterThan(compactItemsBefore);
    else compactItemsBefore = body.meta.compactItemsRead;
  });

  it('takes a minute covered by two windows out once, and a window of all endpoints out of each', async () => {
    await saveMaintenance(tableName, daily);
    try {
      const body = await status(true);
      // Chat: minutes 20 … 34 (15 good, the failures at 20:00, 25:05, 29:59.999 and 30:00).
      expect(endpoint(body, 'chat').slo).toMatchObject({ good: 45, valid: 46, maintenanceExcluded: 19 });
      // Embeddings: minutes 25 … 34 (10 good) and 42 … 47 (6 failures).
      expect(endpoint(body, 'embeddings').slo).toMatchObject({
        good: 40,
        valid: 44,
        maintenanceExcluded: 16,
      });
    } finally {
      await deleteMaintenance(tableName, 'daily');
    }
  });
});
