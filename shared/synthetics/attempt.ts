/**
 * What one attempt of a run produced, whichever runner made it, and the
 * helpers both runners share (secret lookup, bounded logs, failure text).
 */
import type { StepResult } from '../store/synthetics.js';
import type { MonitorSpec, SecretRef } from './spec.js';

/** Screenshots kept per run (step screenshots, then the failure or final one). */
export const MAX_SCREENSHOTS = 3;
/** Log lines kept per run, and characters per line. */
export const MAX_LOG_LINES = 50;
const MAX_LOG_CHARS = 300;
/** Bytes a run may transfer (page, subresources, uploads), both directions. */
export const MAX_RUN_BYTES = 20 * 1024 * 1024;

export type FailureKind = 'timeout' | 'refused' | 'network' | 'status' | 'expectation' | 'setup';

export interface Attempt {
  ok: boolean;
  steps: StepResult[];
  /** The last main-document HTTP status seen. */
  status?: number;
  /** Why the attempt failed: the failed step's kind. */
  failure?: { kind: FailureKind; message: string };
  screenshots: Buffer[];
  logs: string[];
  /** Time to get the runner ready (browser launch), and to run the steps, ms. */
  startMs: number;
  stepsMs: number;
}

export interface AttemptOptions {
  spec: MonitorSpec;
  secrets: Readonly<Record<string, string>>;
}

/** A step failure with the kind the run's event records. */
export class StepFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

export function secretValue(ref: SecretRef, secrets: Readonly<Record<string, string>>): string {
  const value = secrets[ref.secret];
  if (value === undefined) {
    throw new StepFailure('setup', `secret ${ref.secret} is not set (add it to SYNTHETIC_SECRETS)`);
  }
  return value;
}

/** Appends a log line, cut to size, while the run has room for it. */
export function addLog(logs: string[], line: string): void {
  if (logs.length < MAX_LOG_LINES)
    logs.push(line.length > MAX_LOG_CHARS ? `${line.slice(0, MAX_LOG_CHARS)}…` : line);
}

/** The first line of an error's message, without Playwright's call log. */
export function shortError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).slice(0, 300);
}
