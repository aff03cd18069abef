/**
 * The browser runner: a headless Chromium driven by playwright-core, one
 * fresh browser and profile per attempt (so a retry starts clean, and the
 * profile directory is deleted after every attempt: Lambda's /tmp would
 * otherwise fill up after a few dozen runs).
 *
 * Every request the page makes goes through the checking proxy (proxy.ts):
 * `<-loopback>` in the bypass list stops Chromium from sending loopback and
 * link-local requests around it, and QUIC and non-proxied WebRTC UDP are off.
 * Steps find elements through Playwright's locators (role, label, text, test
 * id, CSS); no step evaluates code in the page.
 *
 * Chromium: in Lambda the one @sparticuz/chromium unpacks (153, paired with
 * the pinned playwright-core 1.63); locally CHROMIUM_PATH (Debian's chromium).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { Config } from '../config.js';
import { checkEgressUrl, type EgressPolicy, type Resolver } from '../net/egress.js';
import type { StepResult } from '../store/synthetics.js';
import {
  type Attempt,
  type AttemptOptions,
  addLog,
  MAX_RUN_BYTES,
  MAX_SCREENSHOTS,
  StepFailure,
  secretValue,
  shortError,
} from './attempt.js';
import { REFUSED_HEADER, startCheckingProxy } from './proxy.js';
import { runSteps, type Step, stepLabel, type Target } from './spec.js';

/** Flags that keep every byte on the proxy and the browser small and quiet. */
const CHROMIUM_ARGS = [
  '--proxy-bypass-list=<-loopback>',
  '--disable-quic',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-sandbox',
];

export interface BrowserLaunch {
  executablePath: string;
  args: readonly string[];
}

/**
 * The Chromium to start, or undefined when none is available here (the run
 * then falls back to the HTTP runner and says so).
 */
export async function findBrowser(
  config: Pick<Config, 'chromiumPath' | 'platform'>,
): Promise<BrowserLaunch | undefined> {
  if (config.platform.inLambda) {
    const { default: chromium } = await import('@sparticuz/chromium');
    return { executablePath: await chromium.executablePath(), args: chromium.args };
  }
  return existsSync(config.chromiumPath) ? { executablePath: config.chromiumPath, args: [] } : undefined;
}

function locate(page: Page, target: Target): Locator {
  if ('role' in target) {
    // The role is checked against the ARIA pattern by the spec; Playwright validates the name.
    const role = target.role as Parameters<Page['getByRole']>[0];
    return page.getByRole(role, target.name ? { name: target.name } : {}).first();
  }
  if ('label' in target) return page.getByLabel(target.label).first();
  if ('text' in target) return page.getByText(target.text).first();
  if ('testId' in target) return page.getByTestId(target.testId).first();
  // `css=` pins the CSS engine: other selector engines (xpath, internal ones) cannot be named.
  return page.locator(`css=${target.css}`).first();
}

/** Polls a condition until it holds or `timeoutMs` passes; runs outside the page (no eval). */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const matches = (actual: string, expected: string, how: 'contains' | 'equals') =>
  how === 'equals' ? actual === expected : actual.includes(expected);

export async function browserAttempt(
  options: AttemptOptions & { policy: EgressPolicy; launch: BrowserLaunch; resolver?: Resolver },
): Promise<Attempt> {
  const { spec, launch } = options;
  const started = performance.now();
  const logs: string[] = [];
  const steps: StepResult[] = [];
  const screenshots: Buffer[] = [];
  const proxy = await startCheckingProxy({
    policy: options.policy,
    maxBytes: MAX_RUN_BYTES,
    ...(options.resolver ? { resolver: options.resolver } : {}),
  });
  const profile = await mkdtemp(join(tmpdir(), 'synthetic-'));
  let context: BrowserContext | undefined;
  let failure: Attempt['failure'];
  let status: number | undefined;
  let startMs = 0;
  let stepsStart = performance.now();
  let stepsMs = 0;
  const shownRefusals = new Set<number>();
  const reportRefusals = () => {
    proxy.refusals.forEach((r, i) => {
      if (shownRefusals.has(i)) return;
      shownRefusals.add(i);
      addLog(logs, `blocked: ${r.message}`);
    });
  };
  try {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: launch.executablePath,
      headless: true,
      args: [...launch.args, ...CHROMIUM_ARGS, `--proxy-server=${proxy.url}`],
      viewport: { width: 1280, height: 800 },
      ignoreHTTPSErrors: false,
      acceptDownloads: false,
      serviceWorkers: 'block',
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        addLog(logs, `console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => addLog(logs, `page error: ${shortError(error)}`));
    startMs = performance.now() - started;
    stepsStart = performance.now();
    const deadline = stepsStart + spec.timeoutMs;
    const remaining = (own?: number) => {
      const left = deadline - performance.now();
      if (left <= 0) throw new StepFailure('timeout', `the run's timeout of ${spec.timeoutMs} ms passed`);
      return Math.max(1, Math.min(own ?? left, left));
    };

    const run = async (step: Step): Promise<void> => {
      switch (step.action) {
        case 'goto': {
          const decision = await checkEgressUrl(step.url, options.policy, options.resolver);
          if (!decision.ok) throw new StepFailure('refused', decision.message);
          const before = proxy.refusals.length;
          let response: Awaited<ReturnType<Page['goto']>>;
          try {
            response = await page.goto(step.url, { timeout: remaining(), waitUntil: 'load' });
          } catch (error) {
            const refused = proxy.refusals.slice(before)[0];
            if (refused) throw new StepFailure('refused', refused.message);
            if ((error as Error).name === 'TimeoutError') throw new StepFailure('timeout', shortError(error));
            throw new StepFailure('network', shortError(error));
          }
          const refusedBy = response ? await response.headerValue(REFUSED_HEADER) : null;
          if (refusedBy) {
            const refused = proxy.refusals.slice(before).find((r) => r.reason === refusedBy);
            throw new StepFailure(
              'refused',
              refused?.message ?? `refused by the egress guard (${refusedBy})`,
            );
          }
          status = response?.status();
          return;
        }
        case 'click':
          await locate(page, step.target).click({ timeout: remaining(step.timeoutMs) });
          return;
        case 'fill': {
          const value =
            typeof step.value === 'string' ? step.value : secretValue(step.value, options.secrets);
          await locate(page, step.target).fill(value, { timeout: remaining(step.timeoutMs) });
          return;
        }
        case 'press':
          if (step.target) await locate(page, step.target).press(step.key, { timeout: remaining() });
          else await page.keyboard.press(step.key);
          // A key such as Enter may submit a form: let the navigation it starts settle.
          await page.waitForLoadState('load', { timeout: remaining() }).catch(() => undefined);
          return;
        case 'waitFor':
          await locate(page, step.target).waitFor({ state: 'visible', timeout: remaining(step.timeoutMs) });
          return;
        case 'expectText': {
          const scope = step.target ? locate(page, step.target) : page.locator('body');
          const found = scope.getByText(step.text).first();
          try {
            await found.waitFor({ state: 'visible', timeout: remaining(step.timeoutMs) });
          } catch {
            throw new StepFailure('expectation', `text "${step.text}" did not appear`);
          }
          return;
        }
        case 'expectTitle': {
          let title = '';
          const ok = await until(async () => {
            title = await page.title();
            return matches(title, step.title, step.match);
          }, remaining(5000));
          if (!ok)
            throw new StepFailure(
              'expectation',
              `title is "${title}", expected it to ${step.match} "${step.title}"`,
            );
          return;
        }
        case 'expectUrl': {
          const ok = await until(async () => matches(page.url(), step.url, step.match), remaining(5000));
          if (!ok)
            throw new StepFailure(
              'expectation',
              `URL is ${page.url()}, expected it to ${step.match} "${step.url}"`,
            );
          return;
        }
        case 'expectStatus':
          if (status !== step.status)
            throw new StepFailure('status', `status ${status ?? 'none'}, expected ${step.status}`);
          return;
        case 'screenshot':
          if (screenshots.length < MAX_SCREENSHOTS - 1)
            screenshots.push(await page.screenshot({ type: 'jpeg', quality: 60 }));
          else addLog(logs, `screenshot skipped: at most ${MAX_SCREENSHOTS} per run`);
          return;
      }
    };

    for (const step of runSteps(spec)) {
      const name = stepLabel(step);
      if (failure) {
        steps.push({ name, action: step.action, ok: false, skipped: true, ms: 0 });
        continue;
      }
      const stepStart = performance.now();
      try {
        await run(step);
        steps.push({ name, action: step.action, ok: true, ms: performance.now() - stepStart });
      } catch (error) {
        const kind =
          error instanceof StepFailure
            ? error.kind
            : (error as Error).name === 'TimeoutError'
              ? 'timeout'
              : 'expectation';
        failure = { kind, message: `${name}: ${shortError(error)}` };
        steps.push({
          name,
          action: step.action,
          ok: false,
          ms: performance.now() - stepStart,
          error: shortError(error),
        });
      }
      reportRefusals();
    }
    // The last picture: the failure, or how the page ended.
    try {
      screenshots.push(await page.screenshot({ type: 'jpeg', quality: 60, timeout: 5000 }));
    } catch (error) {
      addLog(logs, `final screenshot failed: ${shortError(error)}`);
    }
  } catch (error) {
    failure ??= { kind: 'setup', message: `browser: ${shortError(error)}` };
  } finally {
    stepsMs = performance.now() - stepsStart;
    await context?.close().catch(() => undefined);
    await proxy.close();
    await rm(profile, { recursive: true, force: true });
    reportRefusals();
  }
  return {
    ok: failure === undefined,
    steps,
    ...(status === undefined ? {} : { status }),
    ...(failure ? { failure } : {}),
    screenshots,
    logs,
    startMs,
    stepsMs,
  };
}
