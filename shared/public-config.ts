/**
 * `GET /config`: the runtime settings the dashboard needs, and nothing secret
 * (keys are reported only as set or not set).
 */
import type { Config } from './config.js';
import { ERROR_TYPES, SOURCES } from './events/model.js';
import { PRICE_TABLE } from './pricing.js';
import { APP_VERSION } from './version.js';

export function publicConfig(config: Config) {
  return {
    version: APP_VERSION,
    upstream: config.upstream,
    probes: {
      endpoints: config.probeEndpoints,
      mode: config.probeMode,
      intervalSec: config.probeIntervalSec,
      timeoutMs: config.httpTimeoutMs,
      region: config.probeRegion,
      heavy: config.probeHeavy,
      models: {
        chat: config.openaiModel,
        embeddings: config.openaiEmbeddingsModel,
        moderation: config.openaiModerationModel,
      },
    },
    slo: {
      objectivePercent: config.sloTarget,
      excludedErrors: config.sloExcludeErrors,
      excludeMaintenance: config.sloExcludeMaintenance,
    },
    incidents: config.incidents,
    retention: { eventsDays: config.retentionDays, rollupsDays: config.rollupRetentionDays },
    features: {
      db: true,
      ingest: Boolean(config.ingestApiKey),
      /** The chat's OpenAI-written answers (`llm: true`), and why they are unavailable when they are. */
      chatLlm: {
        available: config.enableAi && Boolean(config.openaiBaseUrl),
        model: config.aiChatModel,
        reason: !config.enableAi
          ? 'Off: set ENABLE_AI=1 on the server to let the chat ask OpenAI.'
          : !config.openaiBaseUrl
            ? 'No OpenAI key or simulator is configured.'
            : null,
      },
    },
    errorTypes: ERROR_TYPES,
    sources: SOURCES,
    prices: PRICE_TABLE,
  };
}

/** The answer of `GET /config` (the dashboard reads it through this type). */
export type PublicConfig = ReturnType<typeof publicConfig>;
