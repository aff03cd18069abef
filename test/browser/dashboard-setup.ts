/**
 * The seeded dashboard in headless Chromium, as the accessibility test and
 * bench/dashboard both need it: the local stack with 24 h of data (seed.ts),
 * optionally an alert firing, and the system's Chromium launched against it.
 */
import { type Browser, chromium } from 'playwright-core';
import { ruleInputSchema } from '../../shared/alerts/model.js';
import { saveRule, writeState } from '../../shared/store/alerts.js';
import { type SeededStack, startSeededStack } from './seed.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface SeededDashboard {
  seeded: SeededStack;
  browser: Browser;
  /** The dashboard's origin (the local gateway). */
  base: string;
  /** Closes the browser and stops the stack. */
  close(): Promise<void>;
}

/** The dashboard's tabs, in the order of its tab strip. */
export const DASHBOARD_TABS = [
  'status',
  'slo',
  'compare',
  'heatmaps',
  'cost',
  'traces',
  'logs',
  'chat',
  'synthetics',
  'alerts',
] as const;

/** A rule on chat (id `chat-failing`) and its state, firing since 5 minutes before `now`: the Status tab's banner shows it. */
export async function seedFiringAlert(tableName: string, now: number, name = 'Chat failing'): Promise<void> {
  await saveRule(tableName, {
    ...ruleInputSchema.parse({
      name,
      endpoint: 'chat',
      condition: { kind: 'consecutive_failures' },
    }),
    id: 'chat-failing',
    updatedAt: now,
  });
  await writeState(
    tableName,
    {
      ruleId: 'chat-failing',
      endpoint: 'chat',
      status: 'firing',
      since: now - 5 * 60_000,
      notifiedAt: now - 5 * 60_000,
      evaluatedAt: now,
      value: { runs: 5, failed: 4 },
      summary: '4 of the last 5 runs failed (fires at 3 of 5)',
      version: 1,
    },
    undefined,
  );
}

/**
 * Starts the seeded stack and Chromium. `debuggingPort` opens the DevTools
 * endpoint (Lighthouse connects to it); `firingAlert` seeds one firing alert.
 */
export async function openSeededDashboard(
  options: { debuggingPort?: number; firingAlert?: boolean } = {},
): Promise<SeededDashboard> {
  const seeded = await startSeededStack();
  try {
    if (options.firingAlert) await seedFiringAlert(seeded.stack.config.tableName, seeded.seededAt);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        ...(options.debuggingPort ? [`--remote-debugging-port=${options.debuggingPort}`] : []),
      ],
    });
    return {
      seeded,
      browser,
      base: seeded.stack.gateway.url,
      close: async () => {
        await browser.close();
        await seeded.stop();
      },
    };
  } catch (error) {
    await seeded.stop();
    throw error;
  }
}
