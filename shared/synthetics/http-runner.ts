/**
 * The HTTP runner: what plain HTTP can check when no browser can start. It
 * fetches each `goto` through the egress guard (every redirect checked) and
 * checks status, visible text, title and final URL on the document it got;
 * steps that need a browser (click, fill, press, waitFor, screenshot) are
 * marked skipped, and the run says the HTTP runner ran it.
 */
import {
  EgressLimitError,
  type EgressPolicy,
  EgressRefusedError,
  guardedFetch,
  type Resolver,
} from '../net/egress.js';
import type { StepResult } from '../store/synthetics.js';
import {
  type Attempt,
  type AttemptOptions,
  addLog,
  MAX_RUN_BYTES,
  StepFailure,
  shortError,
} from './attempt.js';
import { BROWSER_ONLY, runSteps, type Step, stepLabel } from './spec.js';

interface Document {
  status: number;
  url: string;
  title: string;
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
const decode = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|apos|nbsp);/g, (_, name: string) => ENTITIES[name] ?? '');

/** The text a reader sees, roughly: scripts, styles and tags removed, spaces collapsed. */
export function visibleText(html: string): string {
  return decode(
    html
      .replace(/<(script|style|template|noscript)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

export function documentTitle(html: string): string {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  return match
    ? decode(match[1] as string)
        .replace(/\s+/g, ' ')
        .trim()
    : '';
}

const matches = (actual: string, expected: string, how: 'contains' | 'equals') =>
  how === 'equals' ? actual === expected : actual.includes(expected);

export async function httpAttempt(
  options: AttemptOptions & { policy: EgressPolicy; resolver?: Resolver },
): Promise<Attempt> {
  const { spec } = options;
  const started = performance.now();
  // Durations and the deadline on the monotonic clock: they measure, they do not date anything.
  const deadline = started + spec.timeoutMs;
  const steps: StepResult[] = [];
  const logs: string[] = [];
  let doc: Document | undefined;
  let failure: Attempt['failure'];

  const run = async (step: Step): Promise<void> => {
    if (step.action === 'goto') {
      const remaining = deadline - performance.now();
      if (remaining <= 0)
        throw new StepFailure('timeout', `the run's timeout of ${spec.timeoutMs} ms passed`);
      try {
        const response = await guardedFetch(
          step.url,
          { headers: { 'user-agent': 'openai-status-synthetics/1 (HTTP runner)', accept: 'text/html,*/*' } },
          options.policy,
          {
            timeoutMs: Math.ceil(remaining),
            maxBytes: MAX_RUN_BYTES,
            ...(options.resolver ? { resolver: options.resolver } : {}),
          },
        );
        const html = await response.text();
        doc = {
          status: response.status,
          url: response.url,
          title: documentTitle(html),
          text: visibleText(html),
        };
        addLog(
          logs,
          `GET ${step.url} → ${response.status}${response.redirected ? ` (at ${response.url})` : ''}`,
        );
        return;
      } catch (error) {
        if (error instanceof EgressRefusedError) throw new StepFailure('refused', error.message);
        if (error instanceof EgressLimitError) throw new StepFailure('network', error.message);
        if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') {
          throw new StepFailure('timeout', `no answer from ${step.url} within the run's timeout`);
        }
        throw new StepFailure('network', `${step.url}: ${shortError((error as Error).cause ?? error)}`);
      }
    }
    if (!doc) throw new StepFailure('setup', 'no page loaded yet: start with a goto');
    switch (step.action) {
      case 'expectStatus':
        if (doc.status !== step.status)
          throw new StepFailure('status', `status ${doc.status}, expected ${step.status}`);
        return;
      case 'expectText':
        if (!doc.text.includes(step.text))
          throw new StepFailure('expectation', `text "${step.text}" not found on the page`);
        return;
      case 'expectTitle':
        if (!matches(doc.title, step.title, step.match)) {
          throw new StepFailure(
            'expectation',
            `title is "${doc.title}", expected it to ${step.match} "${step.title}"`,
          );
        }
        return;
      case 'expectUrl':
        if (!matches(doc.url, step.url, step.match)) {
          throw new StepFailure(
            'expectation',
            `URL is ${doc.url}, expected it to ${step.match} "${step.url}"`,
          );
        }
        return;
      default:
        return;
    }
  };

  for (const step of runSteps(spec)) {
    const name = stepLabel(step);
    if (failure) {
      steps.push({ name, action: step.action, ok: false, skipped: true, ms: 0 });
      continue;
    }
    if (BROWSER_ONLY.has(step.action)) {
      steps.push({ name, action: step.action, ok: true, skipped: true, ms: 0, error: 'needs a browser' });
      continue;
    }
    const stepStart = performance.now();
    try {
      await run(step);
      steps.push({ name, action: step.action, ok: true, ms: performance.now() - stepStart });
    } catch (error) {
      const kind = error instanceof StepFailure ? error.kind : 'network';
      failure = { kind, message: `${name}: ${shortError(error)}` };
      steps.push({
        name,
        action: step.action,
        ok: false,
        ms: performance.now() - stepStart,
        error: shortError(error),
      });
    }
  }
  return {
    ok: failure === undefined,
    steps,
    ...(doc ? { status: (doc as Document).status } : {}),
    ...(failure ? { failure } : {}),
    screenshots: [],
    logs,
    startMs: 0,
    stepsMs: performance.now() - started,
  };
}
