/**
 * One run of a monitor: take a place in the minute's run budget, attempt it
 * with the browser (or over HTTP when no browser can start), retry a failed
 * attempt once in a fresh browser when the spec allows, upload the
 * screenshots, store the run, and record it as an event (source `synthetic`,
 * endpoint = the monitor's name) through the one write path, so status, SLO
 * and incidents count monitors as they count probes.
 */
import { randomBytes } from 'node:crypto';
import { clock } from '../clock.js';
import type { Config } from '../config.js';
import { compactEvent, type ErrorType, storedErrorMessage, type TraceEvent } from '../events/model.js';
import { egressPolicy, type Resolver } from '../net/egress.js';
import { s3Client, s3Sdk } from '../s3.js';
import { recordEvents } from '../store/events.js';
import { type MonitorRecord, putRun, type RunRecord, takeRunBudget } from '../store/synthetics.js';
import { type Attempt, type FailureKind, MAX_SCREENSHOTS } from './attempt.js';
import { type BrowserLaunch, browserAttempt, findBrowser } from './browser-runner.js';
import { httpAttempt } from './http-runner.js';
import { screenshotKey } from './links.js';

export type Trigger = RunRecord['trigger'];

export class RunBudgetExceeded extends Error {
  constructor(readonly limit: number) {
    super(`at most ${limit} synthetic runs may start per minute (SYNTHETIC_RUNS_PER_MINUTE)`);
    this.name = 'RunBudgetExceeded';
  }
}

export interface RunOptions {
  config: Config;
  trigger: Trigger;
  /** Which runner: `auto` (the browser when one starts, else HTTP), or one of them. */
  runner?: 'auto' | 'browser' | 'http';
  /** Tests pass a resolver to decide DNS answers (rebinding, private names). */
  resolver?: Resolver;
}

const ERROR_TYPE_OF: Record<FailureKind, ErrorType> = {
  timeout: 'timeout',
  refused: 'network',
  network: 'network',
  status: 'client_error',
  expectation: 'invalid_response',
  setup: 'unknown',
};

function statusTextOf(attempt: Attempt, runner: RunRecord['runner'], attempts: number): string {
  const skipped = attempt.steps.filter((s) => s.skipped && s.ok).length;
  const skippedNote = skipped > 0 ? ` (${skipped} browser-only step${skipped > 1 ? 's' : ''} skipped)` : '';
  const retried = attempts > 1 ? ' after a retry' : '';
  if (attempt.ok)
    return `passed${retried}: ${attempt.steps.length} steps by the ${runner} runner${skippedNote}`;
  return `failed${retried}: ${attempt.failure?.message ?? 'unknown failure'}`;
}

function eventOf(run: RunRecord, attempt: Attempt, config: Config): TraceEvent {
  const errorType =
    attempt.failure === undefined
      ? undefined
      : attempt.failure.kind === 'status' && (attempt.status ?? 0) >= 500
        ? 'server_error'
        : ERROR_TYPE_OF[attempt.failure.kind];
  return compactEvent({
    id: run.id,
    ts: run.ts,
    source: 'synthetic',
    endpoint: run.monitorName,
    model: undefined,
    region: config.probeRegion,
    upstream: undefined,
    ok: run.ok,
    status: attempt.status,
    errorType,
    errorMessage: storedErrorMessage(attempt.failure?.message),
    latencyMs: Math.round(attempt.stepsMs * 1000) / 1000,
    timing: undefined,
    streamed: undefined,
    usage: undefined,
    responseBytes: undefined,
    costUsd: undefined,
    requestId: undefined,
    processingMs: undefined,
    rateLimit: undefined,
    traceId: undefined,
    spanId: undefined,
    attributes: {
      monitor_id: run.monitorId,
      runner: run.runner,
      trigger: run.trigger,
      attempts: String(run.attempts),
    },
  });
}

async function attemptOnce(
  monitor: MonitorRecord,
  options: RunOptions,
  launch: BrowserLaunch | undefined,
): Promise<Attempt> {
  const base = {
    spec: monitor.spec,
    secrets: options.config.syntheticSecrets ?? {},
    policy: egressPolicy(options.config),
    ...(options.resolver ? { resolver: options.resolver } : {}),
  };
  return launch ? browserAttempt({ ...base, launch }) : httpAttempt(base);
}

/** Runs a monitor now, stores the run and its event; throws RunBudgetExceeded when the minute's budget is spent. */
export async function runMonitor(monitor: MonitorRecord, options: RunOptions): Promise<RunRecord> {
  const { config } = options;
  const ts = clock.now();
  if (!(await takeRunBudget(config.tableName, ts, config.syntheticRunsPerMinute))) {
    throw new RunBudgetExceeded(config.syntheticRunsPerMinute);
  }
  const started = performance.now();
  const wanted = options.runner ?? 'auto';
  const launch = wanted === 'http' ? undefined : await findBrowser(config);
  if (wanted === 'browser' && !launch) throw new Error(`no browser at ${config.chromiumPath}`);
  const runner: RunRecord['runner'] = launch ? 'browser' : 'http';

  let attempt = await attemptOnce(monitor, options, launch);
  let attempts = 1;
  const earlier: Attempt[] = [];
  // A refused URL or a bad secret fails the same way again: only other failures get the retry.
  const retryable = (a: Attempt) => a.failure?.kind !== 'refused' && a.failure?.kind !== 'setup';
  if (!attempt.ok && monitor.spec.retries > 0 && retryable(attempt)) {
    earlier.push(attempt);
    attempt = await attemptOnce(monitor, options, launch);
    attempts = 2;
  }

  const id = `r_${ts.toString(36)}${randomBytes(6).toString('hex')}`;
  const uploadStart = performance.now();
  const screenshots: string[] = [];
  for (const [n, image] of attempt.screenshots.slice(0, MAX_SCREENSHOTS).entries()) {
    const key = screenshotKey(monitor.id, id, n);
    const { PutObjectCommand } = await s3Sdk();
    await (await s3Client()).send(
      new PutObjectCommand({
        Bucket: config.artifactsBucket,
        Key: key,
        Body: image,
        ContentType: 'image/jpeg',
      }),
    );
    screenshots.push(key);
  }
  const uploadMs = performance.now() - uploadStart;
  const logs = [
    ...earlier.flatMap((a) => [
      `attempt 1 failed: ${a.failure?.message ?? ''}`,
      ...a.logs.map((l) => `attempt 1: ${l}`),
    ]),
    ...attempt.logs,
  ].slice(0, 60);
  const ms = (value: number) => Math.round(value);
  const run: RunRecord = {
    id,
    monitorId: monitor.id,
    monitorName: monitor.spec.name,
    ts,
    ok: attempt.ok,
    statusText: statusTextOf(attempt, runner, attempts),
    runner,
    trigger: options.trigger,
    attempts,
    durationMs: ms(performance.now() - started),
    steps: attempt.steps.map((s) => ({ ...s, ms: ms(s.ms) })),
    screenshots,
    logs,
    timing: { startMs: ms(attempt.startMs), stepsMs: ms(attempt.stepsMs), uploadMs: ms(uploadMs) },
  };
  await putRun(config.tableName, run, config.retentionDays);
  await recordEvents([eventOf(run, attempt, config)], {
    tableName: config.tableName,
    retentionDays: config.retentionDays,
    rollupRetentionDays: config.rollupRetentionDays,
    now: ts,
  });
  return run;
}
