/**
 * Slack and e-mail deliveries (webhooks: evaluate.test.ts), with the
 * production transport: real HTTP through the egress guard to a receiver on
 * loopback, allowed by an explicit EGRESS_ALLOW exception.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import type { Channel } from './model.js';
import { deliver, type Notification, productionDelivery } from './notify.js';

let receiver: Server;
let port: number;
const bodies: string[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const AT = Date.UTC(2026, 10, 30, 9, 0);
const notification: Notification = {
  event: 'firing',
  at: AT,
  rule: { id: 'chat-down', name: 'Chat failing', kind: 'consecutive_failures' },
  source: 'probe',
  endpoint: 'chat',
  status: 'firing',
  since: AT - 120_000,
  summary: '3 of the last 5 runs failed (fires at 3 of 5)',
  value: { runs: 5, failed: 3 },
  dashboardUrl: 'https://status.example.com/#alerts',
};

describe('deliveries', () => {
  it('post a readable Slack message linking to the dashboard', async () => {
    const config = parseConfig({ EGRESS_ALLOW: `127.0.0.1:${port}` });
    const channel: Channel = {
      id: 'slack',
      name: 'Slack',
      type: 'slack',
      url: `http://127.0.0.1:${port}/services/T/B/x`,
      updatedAt: AT,
    };
    const logged: unknown[] = [];
    const delivery = await deliver(channel, notification, {
      ...productionDelivery(config),
      now: () => AT,
      logger: {
        info: (...args: unknown[]) => logged.push(args),
        warn: (...args: unknown[]) => logged.push(args),
      },
    });
    expect(delivery).toMatchObject({
      ok: true,
      channelType: 'slack',
      event: 'firing',
      attempts: [{ at: AT, status: 200 }],
    });
    const body = JSON.parse(bodies.at(-1) as string) as { text: string; blocks: unknown[] };
    expect(body.text).toBe(
      ':rotating_light: *FIRING* Chat failing (probe `chat`)\n3 of the last 5 runs failed (fires at 3 of 5) <https://status.example.com/#alerts|Open the dashboard>',
    );
    expect(body.blocks).toHaveLength(1);
  });

  it('log e-mails locally, where there is no SNS topic', async () => {
    const config = parseConfig({});
    expect(config.platform.alertTopicArn).toBeUndefined();
    const logged: [string, Record<string, string>][] = [];
    const channel: Channel = { id: 'mail', name: 'Mail', type: 'email', updatedAt: AT };
    const delivery = await deliver(channel, { ...notification, event: 'resolved', status: 'ok' }, {
      ...productionDelivery(config),
      now: () => AT,
      logger: {
        info: (message: string, fields: Record<string, string>) => logged.push([message, fields]),
        warn: () => undefined,
      },
    } as Parameters<typeof deliver>[2]);
    expect(delivery.ok).toBe(true);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.[1].subject).toBe('[RESOLVED] Chat failing — probe chat');
    expect(logged[0]?.[1].text).toContain('Was failing since 2026-11-30T08:58:00Z.');
  });
});
