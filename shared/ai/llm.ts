/**
 * The OpenAI-written answer: the Responses API is given the question and the
 * numbered evidence only (`store: false`), and told to cite [E#]. What comes
 * back is filtered: a citation of evidence that does not exist is removed,
 * also while streaming (a citation still arriving is held back until it is
 * complete). The call itself is recorded like an ingested trace, with its
 * tokens and cost.
 */
import { randomUUID } from 'node:crypto';
import type OpenAI from 'openai';
import type { Config } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { loadedOpenAiSdk, openaiClient } from '../openai-client.js';
import { estimateCost } from '../pricing.js';
import { redactSecrets } from '../redact.js';
import { recordEvents } from '../store/events.js';
import type { Evidence } from './evidence.js';

export const DEFAULT_INSTRUCTIONS = [
  'You answer questions about the health of the OpenAI API as seen by this monitoring service.',
  'Use only the numbered evidence given with the question; do not guess beyond it.',
  'Answer in at most five short sentences. Lead with the direct answer.',
].join(' ');

/** Always appended: the citation rule the answer is checked against. */
const CITATION_RULE =
  'After every claim, cite the evidence it rests on as [E1] (several as [E1][E3]). Never cite an id that is not listed. If the evidence does not answer the question, say so.';

/** Longest answer asked for. */
export const MAX_OUTPUT_TOKENS = 600;

/** The SDK client for the chat: the real API with a key, the simulator without. */
export async function chatClient(config: Config): Promise<OpenAI> {
  const baseURL = config.openaiBaseUrl;
  if (!baseURL) throw new Error('OPENAI_BASE_URL is not set and no simulator is running');
  return openaiClient('chat', { apiKey: config.openaiApiKey, baseURL, maxRetries: 1, timeoutMs: 25_000 });
}

/**
 * The evidence given to the model at most, in characters (about 4 per token):
 * the prompt stays near 2,000 tokens however much the range holds. Evidence
 * past the budget is left out of the prompt (it is listed in order of use,
 * so what is left out is what the code's answer cited last).
 */
export const EVIDENCE_CHAR_BUDGET = 8000;

/** The model's input: the question, then the evidence, one line each, within EVIDENCE_CHAR_BUDGET. */
export function promptInput(question: string, evidence: readonly Evidence[]): string {
  const lines: string[] = [];
  let used = 0;
  for (const e of evidence) {
    const line = `${e.id} (${e.kind}, ${e.ref}): ${e.snippet}`;
    if (used + line.length > EVIDENCE_CHAR_BUDGET) break;
    lines.push(line);
    used += line.length + 1;
  }
  return `Question: ${redactSecrets(question)}\n\nEvidence:\n${lines.join('\n')}`;
}

export function instructionsOf(config: Config): string {
  return `${config.aiChatInstructions ?? DEFAULT_INSTRUCTIONS}\n\n${CITATION_RULE}`;
}

const CITATION = /(\s?)\[\s*(E\d+(?:\s*[,;]\s*E\d+)*)\s*\]/g;
/** A held-back tail longer than this is not a citation in progress. */
const LONGEST_CITATION = 40;

/**
 * Removes citations of unknown evidence from text that may arrive in pieces.
 * `push` returns what can be shown now; `end` the rest.
 */
export class CitationFilter {
  private held = '';
  /** Valid ids cited, in order of first citation. */
  readonly kept: string[] = [];
  /** Citations removed because no such evidence exists. */
  dropped = 0;

  constructor(private readonly known: (id: string) => boolean) {}

  push(delta: string): string {
    const text = this.held + delta;
    const open = text.lastIndexOf('[');
    if (open >= 0 && !text.includes(']', open) && text.length - open <= LONGEST_CITATION) {
      // The space before a citation goes with it, should the citation be dropped.
      let start = open;
      while (start > 0 && /\s/.test(text.charAt(start - 1))) start--;
      this.held = text.slice(start);
      return this.clean(text.slice(0, start));
    }
    this.held = '';
    return this.clean(text);
  }

  end(): string {
    const rest = this.clean(this.held);
    this.held = '';
    return rest;
  }

  private clean(text: string): string {
    return text.replace(CITATION, (_match, space: string, list: string) => {
      const ids = list.split(/\s*[,;]\s*/);
      const good = ids.filter((id) => this.known(id));
      this.dropped += ids.length - good.length;
      for (const id of good) if (!this.kept.includes(id)) this.kept.push(id);
      return good.length === 0 ? '' : `${space}${good.map((id) => `[${id}]`).join('')}`;
    });
  }
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Estimated from the price table; null when the model has no price. */
  costUsd: number | null;
}

interface ResponsesUsage {
  input_tokens: number;
  output_tokens: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

export function usageOf(model: string, usage: ResponsesUsage | null | undefined): LlmUsage | undefined {
  if (!usage) return undefined;
  const tokens = {
    input: usage.input_tokens,
    output: usage.output_tokens,
    cached: usage.input_tokens_details?.cached_tokens ?? 0,
    reasoning: usage.output_tokens_details?.reasoning_tokens ?? 0,
  };
  return {
    inputTokens: tokens.input,
    outputTokens: tokens.output,
    cachedTokens: tokens.cached,
    reasoningTokens: tokens.reasoning,
    costUsd: estimateCost(model, tokens) ?? null,
  };
}

export interface LlmCall {
  model: string;
  startedAt: number;
  latencyMs: number;
  ok: boolean;
  streamed: boolean;
  status?: number | undefined;
  errorMessage?: string | undefined;
  requestId?: string | undefined;
  usage?: LlmUsage | undefined;
}

/**
 * The chat's own call to OpenAI, stored as an ingested trace (endpoint
 * `responses`, service `openai-status-chat`), so its tokens and cost show up
 * beside the apps' own. A failure to record never fails the answer.
 */
export async function recordLlmCall(config: Config, call: LlmCall): Promise<void> {
  const event: TraceEvent = {
    id: `chat-${randomUUID()}`,
    ts: call.startedAt,
    source: 'ingest',
    endpoint: 'responses',
    model: call.model,
    upstream: config.upstream,
    ok: call.ok,
    latencyMs: Math.max(0, Math.round(call.latencyMs)),
    streamed: call.streamed,
    ...(call.status === undefined ? {} : { status: call.status }),
    ...(call.ok
      ? {}
      : {
          errorType:
            call.status === undefined
              ? 'network'
              : call.status === 429
                ? 'rate_limited'
                : call.status >= 500
                  ? 'server_error'
                  : 'client_error',
        }),
    ...(call.errorMessage ? { errorMessage: redactSecrets(call.errorMessage).slice(0, 300) } : {}),
    ...(call.requestId ? { requestId: call.requestId } : {}),
    ...(call.usage
      ? {
          usage: {
            input: call.usage.inputTokens,
            output: call.usage.outputTokens,
            cached: call.usage.cachedTokens,
            reasoning: call.usage.reasoningTokens,
          },
          ...(call.usage.costUsd === null ? {} : { costUsd: call.usage.costUsd }),
        }
      : {}),
    attributes: { service: 'openai-status-chat' },
  };
  try {
    await recordEvents([event], {
      tableName: config.tableName,
      retentionDays: config.retentionDays,
      rollupRetentionDays: config.rollupRetentionDays,
    });
  } catch {
    // The answer matters more than its bookkeeping.
  }
}

/** The HTTP status and message of an SDK error, without anything secret. */
export function describeLlmError(error: unknown): { status?: number; message: string } {
  const sdk = loadedOpenAiSdk();
  if (sdk && error instanceof sdk.APIError) {
    return {
      ...(error.status ? { status: error.status } : {}),
      message: redactSecrets(error.message).slice(0, 200),
    };
  }
  return { message: redactSecrets(error instanceof Error ? error.message : String(error)).slice(0, 200) };
}
