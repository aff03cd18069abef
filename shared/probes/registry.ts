/**
 * The probes: one entry per probe key. Adding a probe is adding an entry here
 * (and its key, with whether it runs by default or is heavy, to PROBE_TABLE in
 * shared/config.ts). Every call is tiny, made
 * through the official SDK, and says what a valid answer looks like, so a 200
 * with the wrong body counts as `invalid_response` rather than success.
 */
import type OpenAI from 'openai';
import type { Config, ProbeKey } from '../config.js';
import type { EventUsage } from '../events/model.js';

export interface ProbeCallOptions {
  timeout: number;
  signal: AbortSignal;
}

/** What a probe learned from a successful call, beyond what the HTTP layer measured. */
export interface ProbeOutcome {
  response: Response;
  usage?: EventUsage;
  responseModel?: string;
  responseId?: string;
  finishReasons?: string[];
  /**
   * `performance.now()` when the first streamed token was read (chat_stream): the runner measures
   * the time to it from the HTTP request's start, the same start as the call's latency.
   */
  firstTokenAt?: number;
  /** Set when the body parsed but is not what the API documents. */
  invalid?: string;
}

export interface ProbeDefinition {
  key: ProbeKey;
  /** `gen_ai.operation.name`. */
  operation: string;
  /** `openai.api.type`, for the two text-generation APIs. */
  apiType?: 'chat_completions' | 'responses';
  /** The model the call names (none for listing calls). */
  model?: (config: Config) => string;
  /** The request's maximum output tokens, recorded on the span. */
  maxTokens?: number;
  stream?: boolean;
  call(client: OpenAI, config: Config, options: ProbeCallOptions): Promise<ProbeOutcome>;
}

const PROMPT = 'Reply with the single word: ok';

/** Reasoning models (o-series, gpt-5) refuse `temperature`. */
const takesTemperature = (model: string) => !/^(o\d|gpt-5)/.test(model);

const listing = (items: unknown): string | undefined =>
  Array.isArray((items as { data?: unknown })?.data) ? undefined : 'expected a list object with data[]';

const chatUsage = (usage: OpenAI.CompletionUsage | undefined | null): EventUsage | undefined =>
  usage
    ? {
        input: usage.prompt_tokens,
        output: usage.completion_tokens,
        cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
        reasoning: usage.completion_tokens_details?.reasoning_tokens ?? 0,
      }
    : undefined;

export const PROBES: Record<ProbeKey, ProbeDefinition> = {
  chat: {
    key: 'chat',
    operation: 'chat',
    apiType: 'chat_completions',
    model: (c) => c.openaiModel,
    maxTokens: 5,
    async call(client, config, options) {
      const model = config.openaiModel;
      const { data, response } = await client.chat.completions
        .create(
          {
            model,
            messages: [{ role: 'user', content: PROMPT }],
            max_completion_tokens: 5,
            ...(takesTemperature(model) ? { temperature: 0 } : {}),
          },
          options,
        )
        .withResponse();
      return {
        response,
        ...optional('usage', chatUsage(data.usage)),
        responseModel: data.model,
        responseId: data.id,
        finishReasons: (data.choices ?? []).map((c) => c.finish_reason),
        ...optional(
          'invalid',
          Array.isArray(data.choices) && data.choices.length > 0 ? undefined : 'no choices',
        ),
      };
    },
  },
  chat_stream: {
    key: 'chat_stream',
    operation: 'chat',
    apiType: 'chat_completions',
    model: (c) => c.openaiModel,
    maxTokens: 5,
    stream: true,
    async call(client, config, options) {
      const model = config.openaiModel;
      const { data: stream, response } = await client.chat.completions
        .create(
          {
            model,
            messages: [{ role: 'user', content: PROMPT }],
            max_completion_tokens: 5,
            stream: true,
            stream_options: { include_usage: true },
            ...(takesTemperature(model) ? { temperature: 0 } : {}),
          },
          options,
        )
        .withResponse();
      let firstTokenAt: number | undefined;
      let usage: EventUsage | undefined;
      let responseModel: string | undefined;
      let responseId: string | undefined;
      const finishReasons: string[] = [];
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        responseModel ??= chunk.model;
        responseId ??= chunk.id;
        for (const choice of chunk.choices ?? []) {
          if (firstTokenAt === undefined && choice.delta?.content) firstTokenAt = performance.now();
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
        }
        if (chunk.usage) usage = chatUsage(chunk.usage);
      }
      return {
        response,
        ...optional('usage', usage),
        ...optional('responseModel', responseModel),
        ...optional('responseId', responseId),
        finishReasons,
        ...optional('firstTokenAt', firstTokenAt),
        ...optional('invalid', chunks === 0 ? 'empty stream' : undefined),
      };
    },
  },
  responses: {
    key: 'responses',
    operation: 'chat',
    apiType: 'responses',
    model: (c) => c.openaiModel,
    // The Responses API refuses fewer than 16.
    maxTokens: 16,
    async call(client, config, options) {
      const model = config.openaiModel;
      const { data, response } = await client.responses
        .create(
          {
            model,
            input: PROMPT,
            max_output_tokens: 16,
            ...(takesTemperature(model) ? { temperature: 0 } : {}),
          },
          options,
        )
        .withResponse();
      const u = data.usage;
      return {
        response,
        ...optional(
          'usage',
          u
            ? {
                input: u.input_tokens,
                output: u.output_tokens,
                cached: u.input_tokens_details?.cached_tokens ?? 0,
                reasoning: u.output_tokens_details?.reasoning_tokens ?? 0,
              }
            : undefined,
        ),
        responseModel: data.model,
        responseId: data.id,
        finishReasons: [data.status ?? 'unknown'],
        ...optional('invalid', Array.isArray(data.output) ? undefined : 'no output'),
      };
    },
  },
  embeddings: {
    key: 'embeddings',
    operation: 'embeddings',
    model: (c) => c.openaiEmbeddingsModel,
    async call(client, config, options) {
      const { data, response } = await client.embeddings
        .create({ model: config.openaiEmbeddingsModel, input: 'ping' }, options)
        .withResponse();
      const vector = data.data?.[0]?.embedding;
      return {
        response,
        ...optional('usage', data.usage ? { input: data.usage.prompt_tokens } : undefined),
        responseModel: data.model,
        ...optional('invalid', Array.isArray(vector) && vector.length > 0 ? undefined : 'no embedding'),
      };
    },
  },
  moderations: {
    key: 'moderations',
    operation: 'moderations',
    model: (c) => c.openaiModerationModel,
    async call(client, config, options) {
      const { data, response } = await client.moderations
        .create({ model: config.openaiModerationModel, input: 'ping' }, options)
        .withResponse();
      return {
        response,
        responseModel: data.model,
        responseId: data.id,
        ...optional(
          'invalid',
          Array.isArray(data.results) && data.results.length > 0 ? undefined : 'no results',
        ),
      };
    },
  },
  models: {
    key: 'models',
    operation: 'models.list',
    async call(client, _config, options) {
      const { data, response } = await client.models.list(options).withResponse();
      return { response, ...optional('invalid', listing(data)) };
    },
  },
  files: {
    key: 'files',
    operation: 'files.list',
    async call(client, _config, options) {
      const { data, response } = await client.files.list({ limit: 1 }, options).withResponse();
      return { response, ...optional('invalid', listing(data)) };
    },
  },
  fine_tunes: {
    key: 'fine_tunes',
    operation: 'fine_tuning.jobs.list',
    async call(client, _config, options) {
      const { data, response } = await client.fineTuning.jobs.list({ limit: 1 }, options).withResponse();
      return { response, ...optional('invalid', listing(data)) };
    },
  },
  batches: {
    key: 'batches',
    operation: 'batches.list',
    async call(client, _config, options) {
      const { data, response } = await client.batches.list({ limit: 1 }, options).withResponse();
      return { response, ...optional('invalid', listing(data)) };
    },
  },
  assistants: {
    key: 'assistants',
    operation: 'assistants.list',
    async call(client, _config, options) {
      const { data, response } = await client.beta.assistants.list({ limit: 1 }, options).withResponse();
      return { response, ...optional('invalid', listing(data)) };
    },
  },
  images: {
    key: 'images',
    operation: 'images.generate',
    // DALL·E 2 and 3 are retired; this is the cheapest image model, at its smallest size and lowest quality.
    model: () => 'gpt-image-1-mini',
    async call(client, _config, options) {
      const { data, response } = await client.images
        .generate(
          { model: 'gpt-image-1-mini', prompt: 'a small red dot', size: '1024x1024', quality: 'low', n: 1 },
          options,
        )
        .withResponse();
      const u = data.usage;
      return {
        response,
        ...optional('usage', u ? { input: u.input_tokens, output: u.output_tokens } : undefined),
        ...optional('invalid', Array.isArray(data.data) && data.data.length > 0 ? undefined : 'no image'),
      };
    },
  },
};

/** `{ key: value }` when value is defined, `{}` otherwise (exactOptionalPropertyTypes-friendly spreads). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}
