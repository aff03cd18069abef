/**
 * Alert rules, channels and maintenance windows: what a user may store
 * (validated with zod at the HTTP edge) and what the evaluator keeps per rule.
 *
 * A rule targets one endpoint of one source, or every endpoint of it (`*`):
 * then each endpoint has its own state, as a Prometheus rule has one alert per
 * label set. A synthetic monitor is the endpoint of the same name with source
 * `synthetic`.
 */

import { SOURCES } from '../events/model.js';
import * as z from '../zod.js';

export const ANY_ENDPOINT = '*';
export const MAX_RULES = 200;
export const MAX_CHANNELS = 50;
export const MAX_MAINTENANCE_WINDOWS = 200;

const minutes = (max: number) => z.number().check(z.int(), z.gte(1), z.lte(max));
const id = z
  .string()
  .check(
    z.regex(
      /^[a-z0-9][a-z0-9_-]{0,63}$/,
      'lower-case letters, digits, - and _, at most 64, first a letter or digit',
    ),
  );
const wholeFrom = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

const consecutive = z
  .strictObject({
    kind: z.literal('consecutive_failures'),
    /** Fires when at least `failures` of the last `outOf` runs failed (as a share when a minute holds more runs). */
    failures: z._default(wholeFrom(1, 100), 3),
    outOf: z._default(wholeFrom(1, 100), 5),
    /** Resolves when the last `recoverAfter` runs all succeeded. */
    recoverAfter: z._default(wholeFrom(1, 100), 2),
    /** How far back runs are looked for (probes in round robin come once every few minutes). */
    lookbackMinutes: z._default(minutes(360), 60),
  })
  .check(
    z.refine((c) => c.failures <= c.outOf, { message: 'failures must be at most outOf', path: ['failures'] }),
  );

const burnWindow = z
  .strictObject({
    longMinutes: minutes(1440),
    shortMinutes: minutes(1440),
    factor: z.number().check(z.positive(), z.lte(1000)),
  })
  .check(
    z.refine((w) => w.shortMinutes < w.longMinutes, {
      message: 'shortMinutes must be less than longMinutes',
      path: ['shortMinutes'],
    }),
  );

const burnRate = z.strictObject({
  kind: z.literal('burn_rate'),
  /** Availability objective in percent; default SLO_TARGET. */
  objectivePercent: z.optional(z.number().check(z.gt(0), z.lt(100))),
  /** Pages on a fast burn: both windows over the factor. */
  fast: z._default(burnWindow, { longMinutes: 60, shortMinutes: 5, factor: 14.4 }),
  /** Tickets a slow burn. */
  slow: z._default(burnWindow, { longMinutes: 360, shortMinutes: 30, factor: 6 }),
});

const latency = z.strictObject({
  kind: z.literal('latency'),
  /** p95 over `windowMinutes` above this fires (after the rule's forMinutes). */
  thresholdMs: z.number().check(z.positive(), z.lte(600_000)),
  windowMinutes: z._default(minutes(60), 5),
  /** Fewer executions than this in the window say nothing. */
  minSamples: z._default(wholeFrom(1, 100_000), 1),
});

export const conditionSchema = z.discriminatedUnion('kind', [consecutive, burnRate, latency]);
export type Condition = z.output<typeof conditionSchema>;

const ruleName = z.string().check(z.trim(), z.minLength(1), z.maxLength(120));

export const ruleInputSchema = z.strictObject({
  id: z.optional(id),
  name: ruleName,
  enabled: z._default(z.boolean(), true),
  source: z._default(z.enum(SOURCES), 'probe'),
  /** An endpoint (probe key, your app's endpoint label, a monitor's name) or `*` for each of them. */
  endpoint: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
  condition: conditionSchema,
  /** The condition must hold this long before the rule fires (pending meanwhile). */
  forMinutes: z._default(wholeFrom(0, 1440), 0),
  channels: z._default(z.array(id).check(z.maxLength(10)), []),
  /** While firing, notify again after this many minutes; 0: never. */
  reminderMinutes: z._default(wholeFrom(0, 10_080), 240),
});
export type RuleInput = z.input<typeof ruleInputSchema>;
export type Rule = z.output<typeof ruleInputSchema> & { id: string; updatedAt: number };

export type AlertStatus = 'ok' | 'pending' | 'firing';

/** What the evaluator keeps per rule and endpoint. */
export interface AlertState {
  ruleId: string;
  endpoint: string;
  status: AlertStatus;
  /** When the current status began (pending and firing: when the condition started to hold). */
  since: number;
  /** Last notification sent for this firing (firing or reminder); undefined while none was. */
  notifiedAt?: number | undefined;
  evaluatedAt: number;
  /** The figures of the last evaluation, for the dashboard. */
  value: Record<string, number | null>;
  summary: string;
  /** Bumped by every write: the conditional write that makes one evaluation win. */
  version: number;
}

export interface Transition {
  id: string;
  ts: number;
  ruleId: string;
  ruleName: string;
  endpoint: string;
  from: AlertStatus;
  to: AlertStatus;
  summary: string;
  /** Set when a maintenance window kept it from notifying. */
  silencedBy?: string | undefined;
}

export const CHANNEL_TYPES = ['webhook', 'slack', 'email'] as const;
const webhookUrl = z.string().check(z.url(), z.maxLength(2000));
export const channelInputSchema = z.discriminatedUnion('type', [
  z.strictObject({
    id: z.optional(id),
    name: ruleName,
    type: z.literal('webhook'),
    url: webhookUrl,
    /** HMAC-SHA256 key of the signature header; at least 16 characters. */
    secret: z.string().check(z.minLength(16), z.maxLength(256)),
  }),
  z.strictObject({
    id: z.optional(id),
    name: ruleName,
    type: z.literal('slack'),
    /** A Slack incoming-webhook URL: it is the secret. */
    url: webhookUrl,
  }),
  z.strictObject({ id: z.optional(id), name: ruleName, type: z.literal('email') }),
]);
export type ChannelInput = z.output<typeof channelInputSchema>;
/** A channel with its secrets, as a delivery needs it (shared/alerts/channel-secrets.ts resolves it). */
export type Channel = ChannelInput & { id: string; updatedAt: number };

/**
 * A channel as the table keeps it: its name and type, where it sends (an
 * origin, for display) and a reference to its secrets (the revision of its
 * entry in the channel secrets store, shared/alerts/channel-secrets.ts), never
 * the secrets themselves. An item written before that store existed holds
 * `url` (and a webhook's `secret`) inline: it keeps working, and the next
 * channel write moves them to the store.
 */
export interface StoredChannel {
  id: string;
  name: string;
  type: (typeof CHANNEL_TYPES)[number];
  updatedAt: number;
  /** `https://host/…`: what the API shows of the URL. */
  destination?: string | undefined;
  /** The revision of the channel's entry in the secrets store. */
  secretRev?: string | undefined;
  /** Old form only: the URL (a Slack URL is a secret) and the webhook key, inline. */
  url?: string | undefined;
  secret?: string | undefined;
}

/** What the API shows of a destination URL: its origin, never its path or query (a Slack URL is a secret). */
export const destinationOf = (url: string) => `${new URL(url).origin}/…`;

/** A channel as the API shows it: never its URL's path or query, never its key. */
export function publicChannel(channel: StoredChannel) {
  const base = { id: channel.id, name: channel.name, type: channel.type, updatedAt: channel.updatedAt };
  if (channel.type === 'email') return base;
  return {
    ...base,
    destination: channel.destination ?? (channel.url ? destinationOf(channel.url) : null),
    ...(channel.type === 'webhook' ? { secretSet: true } : {}),
  };
}

export interface Delivery {
  id: string;
  ts: number;
  channelId: string;
  channelType: (typeof CHANNEL_TYPES)[number];
  ruleId: string;
  endpoint: string;
  event: NotificationEvent;
  ok: boolean;
  attempts: { at: number; status?: number | undefined; error?: string | undefined }[];
  /** Why the destination was refused (egress guard), if it was. */
  refused?: string | undefined;
}

export type NotificationEvent = 'firing' | 'resolved' | 'reminder';

const hhmm = z.string().check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM (UTC)'));

export const maintenanceInputSchema = z
  .strictObject({
    id: z.optional(id),
    title: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
    /** The endpoints it covers; absent: all. */
    endpoints: z.optional(
      z.array(z.string().check(z.trim(), z.minLength(1), z.maxLength(200))).check(z.maxLength(50)),
    ),
    /** One-off: [start, end). Recurring: the first and last day it applies (end optional). */
    start: z.number().check(z.int(), z.nonnegative()),
    end: z.optional(z.number().check(z.int(), z.nonnegative())),
    recurrence: z.optional(
      z
        .strictObject({
          every: z.enum(['day', 'week']),
          /** Week days (0 = Sunday), for `week`. */
          weekdays: z.optional(z.array(wholeFrom(0, 6)).check(z.minLength(1), z.maxLength(7))),
          at: hhmm,
          durationMinutes: minutes(1440),
        })
        .check(
          z.refine((r) => r.every === 'day' || r.weekdays !== undefined, {
            message: 'required when every is week',
            path: ['weekdays'],
          }),
        ),
    ),
  })
  .check(
    z.refine((w) => w.recurrence !== undefined || (w.end !== undefined && w.end > w.start), {
      message: 'a one-off window needs end after start',
      path: ['end'],
    }),
  );
export type MaintenanceWindow = z.output<typeof maintenanceInputSchema> & { id: string; updatedAt: number };
