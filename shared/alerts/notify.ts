/**
 * Notifications of alert transitions, one per transition and channel:
 * - webhook: the JSON body below, signed with HMAC-SHA256 (signatureHeader);
 * - Slack incoming webhook: a readable message linking to the dashboard;
 * - e-mail: published to the alert SNS topic in the cloud, logged locally.
 * Webhook and Slack deliveries go out through the egress guard (the `send`
 * given), are retried with backoff on network errors, 429 and 5xx, and every
 * delivery, with its attempts, is logged in the table.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../config.js';
import { egressPolicy, guardedFetch } from '../net/egress.js';
import type { Channel, Delivery, NotificationEvent } from './model.js';

export const SIGNATURE_HEADER = 'x-openai-status-signature';
export const DELIVERY_HEADER = 'x-openai-status-delivery';
/** Waits before the 2nd and 3rd attempts. */
export const RETRY_DELAYS_MS = [1000, 5000] as const;
const ATTEMPT_TIMEOUT_MS = 5000;

export interface Notification {
  event: NotificationEvent;
  at: number;
  rule: { id: string; name: string; kind: string };
  source: string;
  endpoint: string;
  status: 'firing' | 'ok';
  /** When the condition started to hold. */
  since: number;
  summary: string;
  value: Record<string, number | null>;
  /** The dashboard's Alerts view, when DASHBOARD_URL is set. */
  dashboardUrl?: string | undefined;
  silencedBy?: string | undefined;
}

/**
 * The signature of a webhook body: `t=<ms>,v1=<hex>`, where v1 is
 * HMAC-SHA256(secret, `<t>.<body>`). A receiver recomputes it over the raw
 * body and the `t` it was given, compares in constant time, and refuses
 * old `t` values to stop replays (README, "Verifying a webhook").
 */
export function signBody(secret: string, body: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

/** What sends an HTTP request: the egress-guarded fetch in production (deliveries never reach private addresses). */
export type Send = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string },
) => Promise<{
  status: number;
}>;

/** Thrown by `send` for a destination the egress guard refuses: not retried. */
export interface RefusedError extends Error {
  reason: string;
}
const isRefused = (error: unknown): error is RefusedError =>
  error instanceof Error && error.name === 'EgressRefusedError';

export interface DeliverOptions {
  send: Send;
  /** Waits between attempts (tests pass one that records and returns at once). */
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Publishes an e-mail (SNS) in the cloud; undefined locally, where e-mails are logged. */
  publishEmail?: ((subject: string, text: string) => Promise<void>) | undefined;
  logger: Pick<Logger, 'info' | 'warn'>;
}

const TITLES: Record<NotificationEvent, string> = {
  firing: 'FIRING',
  resolved: 'RESOLVED',
  reminder: 'STILL FIRING',
};

function subjectOf(n: Notification): string {
  return `[${TITLES[n.event]}] ${n.rule.name} — ${n.source} ${n.endpoint}`;
}

function textOf(n: Notification): string {
  const since = new Date(n.since).toISOString().replace('.000Z', 'Z');
  return [
    subjectOf(n),
    n.summary,
    `${n.event === 'resolved' ? 'Was failing' : 'Failing'} since ${since}.`,
    ...(n.dashboardUrl ? [`Dashboard: ${n.dashboardUrl}`] : []),
  ].join('\n');
}

function slackBody(n: Notification): string {
  const icon = n.event === 'resolved' ? ':white_check_mark:' : ':rotating_light:';
  const link = n.dashboardUrl ? ` <${n.dashboardUrl}|Open the dashboard>` : '';
  const text = `${icon} *${TITLES[n.event]}* ${n.rule.name} (${n.source} \`${n.endpoint}\`)\n${n.summary}${link}`;
  return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
}

const retryable = (status: number) => status === 429 || status >= 500;

/** Delivers one notification to one channel and returns the delivery to log. Never throws. */
export async function deliver(channel: Channel, n: Notification, options: DeliverOptions): Promise<Delivery> {
  const delivery: Delivery = {
    id: randomUUID(),
    ts: options.now(),
    channelId: channel.id,
    channelType: channel.type,
    ruleId: n.rule.id,
    endpoint: n.endpoint,
    event: n.event,
    ok: false,
    attempts: [],
  };
  if (channel.type === 'email') {
    const at = options.now();
    try {
      if (options.publishEmail) await options.publishEmail(subjectOf(n).slice(0, 99), textOf(n));
      else
        options.logger.info('alert e-mail (logged locally; SNS in the cloud)', {
          subject: subjectOf(n),
          text: textOf(n),
        });
      delivery.ok = true;
      delivery.attempts.push({ at });
    } catch (error) {
      delivery.attempts.push({ at, error: (error as Error).message.slice(0, 300) });
    }
    return delivery;
  }
  const body =
    channel.type === 'slack'
      ? slackBody(n)
      : JSON.stringify({ type: 'openai-status.alert', deliveryId: delivery.id, ...n });
  for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
    if (attempt > 0) await options.sleep(RETRY_DELAYS_MS[attempt - 1] as number);
    const at = options.now();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'openai-status-alerts',
    };
    if (channel.type === 'webhook') {
      headers[SIGNATURE_HEADER] = signBody(channel.secret, body, at);
      headers[DELIVERY_HEADER] = delivery.id;
    }
    try {
      const answer = await options.send(channel.url, { method: 'POST', headers, body });
      delivery.attempts.push({ at, status: answer.status });
      if (answer.status >= 200 && answer.status < 300) {
        delivery.ok = true;
        break;
      }
      if (!retryable(answer.status)) break;
    } catch (error) {
      if (isRefused(error)) {
        delivery.refused = error.reason;
        delivery.attempts.push({ at, error: `refused: ${error.message}`.slice(0, 300) });
        break;
      }
      delivery.attempts.push({ at, error: (error as Error).message.slice(0, 300) });
    }
  }
  if (!delivery.ok) {
    options.logger.warn('alert delivery failed', {
      channel: channel.id,
      rule: n.rule.id,
      attempts: delivery.attempts.length,
      refused: delivery.refused,
    });
  }
  return delivery;
}

/**
 * The production transport: POSTs through the egress guard (EGRESS_ALLOW
 * exceptions only), no redirects followed (a webhook that redirects is
 * misconfigured), a small body limit; e-mail through SNS when the stack set
 * the topic.
 */
export function productionDelivery(config: Config): Omit<DeliverOptions, 'now' | 'logger'> {
  const policy = egressPolicy(config);
  const topicArn = config.platform.alertTopicArn;
  return {
    send: async (url, init) => {
      const answer = await guardedFetch(url, init, policy, {
        timeoutMs: ATTEMPT_TIMEOUT_MS,
        maxRedirects: 0,
        maxBytes: 64 * 1024,
      });
      return { status: answer.status };
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    publishEmail: topicArn
      ? async (subject, text) => {
          const { publish } = await import('./sns-client.js');
          await publish(topicArn, subject, text);
        }
      : undefined,
  };
}
