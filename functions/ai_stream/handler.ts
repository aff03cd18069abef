import { Readable } from 'node:stream';
import {
  type ChatLine,
  enforceChatRate,
  parseChatRequest,
  streamChat,
  withHeartbeat,
} from '../../shared/ai/chat.js';
import { findLogsForChat } from '../../shared/ai/logs.js';
import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler, requiredJsonBody } from '../../shared/http/middleware.js';
import { rejectUnknown } from '../../shared/http/query.js';

/** A line at least this often while nothing else is sent (CloudFront gives up on an origin silent for 30 s). */
const HEARTBEAT_MS = 10_000;

/** POST /ai/chat/stream { question, window?, filters?, llm? } → NDJSON lines. */
export const handler = httpHandler(
  async (request) => {
    rejectUnknown(request.query, []);
    const config = getConfig();
    const now = clock.now();
    const chat = parseChatRequest(requiredJsonBody(request, 'a JSON object with a question'));
    await enforceChatRate(request, config, now);
    const lines = withHeartbeat<ChatLine>(
      streamChat(chat, { config, now, findLogs: findLogsForChat }),
      HEARTBEAT_MS,
      {
        heartbeat: true,
      },
    );
    async function* ndjson() {
      for await (const line of lines) yield `${JSON.stringify(line)}\n`;
    }
    return {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' },
      body: Readable.from(ndjson()),
    };
  },
  { streaming: true },
);
