/**
 * The synthetic monitor spec, version 1: what a monitor visits and checks,
 * as declarative steps. No step carries code: targets are found by role and
 * accessible name, label, visible text, test id or a CSS selector, and values
 * are text, or a reference to a stored secret (`{ "secret": "NAME" }`, see
 * SYNTHETIC_SECRETS), never the secret itself.
 *
 * The same schema checks what users send, what either drafter proposes and
 * what the store reads back; the README documents it field by field.
 */

import { LABEL_SCHEMAS } from '../events/storable.js';
import * as z from '../zod.js';

export const SPEC_VERSION = 1;
/** Most steps a monitor may have: a run's time grows with them. */
export const MAX_STEPS = 25;
/** Per-step and whole-run time limits, ms. */
export const MAX_TIMEOUT_MS = 60_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MIN_INTERVAL_SEC = 60;
export const MAX_INTERVAL_SEC = 86_400;
/** Longest text a step carries (names, texts, selectors, values). */
const MAX_TEXT = 500;

const text = z.string().check(z.trim(), z.minLength(1), z.maxLength(MAX_TEXT));

/** An absolute http(s) URL; the egress guard decides later whether its address may be reached. */
export const httpUrl = z.string().check(
  z.trim(),
  z.maxLength(2000),
  z.refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an absolute http:// or https:// URL'),
);

/** A stored secret's name (SYNTHETIC_SECRETS): the value is looked up at run time, never stored. */
export const secretName = z
  .string()
  .check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'expected a secret name: letters, digits and _'));

const secretRef = z.strictObject({ secret: secretName });
export type SecretRef = z.infer<typeof secretRef>;

/** How a step finds its element; exactly one way per target. */
export const target = z.union([
  z.strictObject({
    role: z.string().check(z.trim(), z.regex(/^[a-z]+$/, 'expected an ARIA role such as button')),
    name: z.optional(text),
  }),
  z.strictObject({ label: text }),
  z.strictObject({ text: text }),
  z.strictObject({ testId: text }),
  z.strictObject({ css: text }),
]);
export type Target = z.infer<typeof target>;

const textMatch = z.enum(['contains', 'equals']);
const stepName = z.optional(text.check(z.maxLength(100)));
/** A step's own wait, at most the monitor's timeout. */
const stepTimeout = z.optional(z.number().check(z.int(), z.gte(100), z.lte(MAX_TIMEOUT_MS)));

export const step = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('goto'), name: stepName, url: httpUrl }),
  z.strictObject({ action: z.literal('click'), name: stepName, target, timeoutMs: stepTimeout }),
  z.strictObject({
    action: z.literal('fill'),
    name: stepName,
    target,
    value: z.union([z.string().check(z.maxLength(MAX_TEXT)), secretRef]),
    timeoutMs: stepTimeout,
  }),
  z.strictObject({
    action: z.literal('press'),
    name: stepName,
    key: z.string().check(z.regex(/^[A-Za-z0-9+]{1,30}$/, 'expected a key name such as Enter or Control+A')),
    target: z.optional(target),
  }),
  z.strictObject({ action: z.literal('waitFor'), name: stepName, target, timeoutMs: stepTimeout }),
  z.strictObject({
    action: z.literal('expectText'),
    name: stepName,
    text,
    target: z.optional(target),
    timeoutMs: stepTimeout,
  }),
  z.strictObject({
    action: z.literal('expectTitle'),
    name: stepName,
    title: text,
    match: z._default(textMatch, 'contains'),
  }),
  z.strictObject({
    action: z.literal('expectUrl'),
    name: stepName,
    url: text,
    match: z._default(textMatch, 'contains'),
  }),
  z.strictObject({
    action: z.literal('expectStatus'),
    name: stepName,
    status: z.number().check(z.int(), z.gte(100), z.lte(599)),
  }),
  z.strictObject({ action: z.literal('screenshot'), name: stepName }),
]);
export type Step = z.infer<typeof step>;
export type StepAction = Step['action'];
export const STEP_ACTIONS = [
  'goto',
  'click',
  'fill',
  'press',
  'waitFor',
  'expectText',
  'expectTitle',
  'expectUrl',
  'expectStatus',
  'screenshot',
] as const satisfies readonly StepAction[];

/** Steps only a browser can do: the HTTP runner marks them skipped. */
export const BROWSER_ONLY: ReadonlySet<StepAction> = new Set([
  'click',
  'fill',
  'press',
  'waitFor',
  'screenshot',
]);

export const monitorSpec = z.strictObject({
  version: z._default(z.literal(SPEC_VERSION), SPEC_VERSION),
  /** Also the `endpoint` label of the run's events: the event label's own limits. */
  name: LABEL_SCHEMAS.endpoint.check(
    z.refine(
      (name) => ![...name].some((c) => (c.codePointAt(0) ?? 0) < 0x20),
      'must not contain control characters',
    ),
  ),
  startUrl: httpUrl,
  /** Seconds between scheduled runs, or `off` (runs only when asked). */
  schedule: z._default(
    z.union([
      z.literal('off'),
      z.strictObject({
        everySec: z.number().check(z.int(), z.gte(MIN_INTERVAL_SEC), z.lte(MAX_INTERVAL_SEC)),
      }),
    ]),
    'off',
  ),
  /** Whole-run limit, ms. */
  timeoutMs: z._default(z.number().check(z.int(), z.gte(1000), z.lte(MAX_TIMEOUT_MS)), DEFAULT_TIMEOUT_MS),
  /** Failed runs retried (in a fresh browser context) before a failure counts: 0 or 1. */
  retries: z._default(z.number().check(z.int(), z.gte(0), z.lte(1)), 1),
  steps: z.array(step).check(z.maxLength(MAX_STEPS)),
});
export type MonitorSpec = z.output<typeof monitorSpec>;
export type MonitorSpecInput = z.input<typeof monitorSpec>;

/** A step's display name: its own, else one made from what it does. */
export function stepLabel(s: Step): string {
  if (s.name) return s.name;
  switch (s.action) {
    case 'goto':
      return `goto ${s.url}`;
    case 'click':
    case 'waitFor':
      return `${s.action} ${targetLabel(s.target)}`;
    case 'fill':
      return `fill ${targetLabel(s.target)}`;
    case 'press':
      return `press ${s.key}`;
    case 'expectText':
      return `expect text "${s.text}"`;
    case 'expectTitle':
      return `expect title "${s.title}"`;
    case 'expectUrl':
      return `expect url "${s.url}"`;
    case 'expectStatus':
      return `expect status ${s.status}`;
    case 'screenshot':
      return 'screenshot';
  }
}

export function targetLabel(t: Target): string {
  if ('role' in t) return t.name ? `${t.role} "${t.name}"` : t.role;
  if ('label' in t) return `label "${t.label}"`;
  if ('text' in t) return `text "${t.text}"`;
  if ('testId' in t) return `test id "${t.testId}"`;
  return `css ${t.css}`;
}

/** The steps a run performs: the start URL first, unless the spec starts with its own goto. */
export function runSteps(spec: MonitorSpec): Step[] {
  const first = spec.steps[0];
  return first?.action === 'goto' ? spec.steps : [{ action: 'goto', url: spec.startUrl }, ...spec.steps];
}

/** The secret names a spec refers to. */
export function secretNames(spec: MonitorSpec): string[] {
  return spec.steps.flatMap((s) =>
    s.action === 'fill' && typeof s.value === 'object' ? [s.value.secret] : [],
  );
}
