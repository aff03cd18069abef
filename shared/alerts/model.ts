/**
 * Alert rules, channels and maintenance windows: what a user may store
 * (validated with zod at the HTTP edge) and what the evaluator keeps per rule.
 *
 * A rule targets one endpoint of one source, or every endpoint of it (`*`):
 * then each endpoint has its own state, as a Prometheus rule has one alert per
 * label set. A synthetic monitor is the endpoint of the same name with source
 * `synthetic`.
 */
import * as z from 'zod';
import { SOURCES } from '../events/model.js';

export const ANY_ENDPOINT = '*';
export const MAX_RULES = 200;
export const MAX_CHANNELS = 50;
export const MAX_MAINTENANCE_WINDOWS = 200;

const minutes = (max: number) => z.number().int().min(1).max(max);
const id = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,63}$/,
    'lower-case letters, digits, - and _, at most 64, first a letter or digit',
  );

const consecutive = z
  .object({
    kind: z.literal('consecutive_failures'),
    /** Fires when at least `failures` of the last `outOf` runs failed (as a share when a minute holds more runs). */
    failures: z.number().int().min(1).max(100).default(3),
    outOf: z.number().int().min(1).max(100).default(5),
    /** Resolves when the last `recoverAfter` runs all succeeded. */
    recoverAfter: z.number().int().min(1).max(100).default(2),
    /** How far back runs are looked for (probes in round robin come once every few minutes). */
    lookbackMinutes: minutes(360).default(60),
  })
  .strict()
  .refine((c) => c.failures <= c.outOf, { message: 'failures must be at most outOf', path: ['failures'] });

const burnWindow = z
  .object({
    longMinutes: minutes(1440),
    shortMinutes: minutes(1440),
    factor: z.number().positive().max(1000),
  })
  .strict()
  .refine((w) => w.shortMinutes < w.longMinutes, {
    message: 'shortMinutes must be less than longMinutes',
    path: ['shortMinutes'],
  });

const burnRate = z
  .object({
    kind: z.literal('burn_rate'),
    /** Availability objective in percent; default SLO_TARGET. */
    objectivePercent: z.number().gt(0).lt(100).optional(),
    /** Pages on a fast burn: both windows over the factor. */
    fast: burnWindow.default({ longMinutes: 60, shortMinutes: 5, factor: 14.4 }),
    /** Tickets a slow burn. */
    slow: burnWindow.default({ longMinutes: 360, shortMinutes: 30, factor: 6 }),
  })
  .strict();

const latency = z
  .object({
    kind: z.literal('latency'),
    /** p95 over `windowMinutes` above this fires (after the rule's forMinutes). */
    thresholdMs: z.number().positive().max(600_000),
    windowMinutes: minutes(60).default(5),
    /** Fewer executions than this in the window say nothing. */
    minSamples: z.number().int().min(1).max(100_000).default(1),
  })
  .strict();

export const conditionSchema = z.discriminatedUnion('kind', [consecutive, burnRate, latency]);
export type Condition = z.output<typeof conditionSchema>;

export const ruleInputSchema = z
  .object({
    id: id.optional(),
    name: z.string().trim().min(1).max(120),
    enabled: z.boolean().default(true),
    source: z.enum(SOURCES).default('probe'),
    /** An endpoint (probe key, your app's endpoint label, a monitor's name) or `*` for each of them. */
    endpoint: z.string().trim().min(1).max(200),
    condition: conditionSchema,
    /** The condition must hold this long before the rule fires (pending meanwhile). */
    forMinutes: z.number().int().min(0).max(1440).default(0),
    channels: z.array(id).max(10).default([]),
    /** While firing, notify again after this many minutes; 0: never. */
    reminderMinutes: z.number().int().min(0).max(10_080).default(240),
  })
  .strict();
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
export const channelInputSchema = z.discriminatedUnion('type', [
  z
    .object({
      id: id.optional(),
      name: z.string().trim().min(1).max(120),
      type: z.literal('webhook'),
      url: z.string().url().max(2000),
      /** HMAC-SHA256 key of the signature header; at least 16 characters. */
      secret: z.string().min(16).max(256),
    })
    .strict(),
  z
    .object({
      id: id.optional(),
      name: z.string().trim().min(1).max(120),
      type: z.literal('slack'),
      /** A Slack incoming-webhook URL: it is the secret. */
      url: z.string().url().max(2000),
    })
    .strict(),
  z.object({ id: id.optional(), name: z.string().trim().min(1).max(120), type: z.literal('email') }).strict(),
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

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM (UTC)');

export const maintenanceInputSchema = z
  .object({
    id: id.optional(),
    title: z.string().trim().min(1).max(200),
    /** The endpoints it covers; absent: all. */
    endpoints: z.array(z.string().trim().min(1).max(200)).max(50).optional(),
    /** One-off: [start, end). Recurring: the first and last day it applies (end optional). */
    start: z.number().int().nonnegative(),
    end: z.number().int().nonnegative().optional(),
    recurrence: z
      .object({
        every: z.enum(['day', 'week']),
        /** Week days (0 = Sunday), for `week`. */
        weekdays: z.array(z.number().int().min(0).max(6)).min(1).max(7).optional(),
        at: hhmm,
        durationMinutes: minutes(1440),
      })
      .strict()
      .refine((r) => r.every === 'day' || r.weekdays !== undefined, {
        message: 'required when every is week',
        path: ['weekdays'],
      })
      .optional(),
  })
  .strict()
  .refine((w) => w.recurrence !== undefined || (w.end !== undefined && w.end > w.start), {
    message: 'a one-off window needs end after start',
    path: ['end'],
  });
export type MaintenanceWindow = z.output<typeof maintenanceInputSchema> & { id: string; updatedAt: number };
