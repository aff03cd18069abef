import type { TraceInput } from './trace.js';

/** Token usage as the Chat Completions (`prompt_*`) and Responses (`input_*`) APIs spell it. */
export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  input_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
  output_tokens_details?: { reasoning_tokens?: number };
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The trace's token fields; the parts (cached, reasoning) are capped at their whole, as the server requires. */
export function usageFields(usage: Usage | undefined): Partial<TraceInput> {
  if (!usage) return {};
  const input = usage.input_tokens ?? usage.prompt_tokens;
  const output = usage.output_tokens ?? usage.completion_tokens;
  const cached = usage.input_tokens_details?.cached_tokens ?? usage.prompt_tokens_details?.cached_tokens;
  const reasoning =
    usage.output_tokens_details?.reasoning_tokens ?? usage.completion_tokens_details?.reasoning_tokens;
  return {
    ...(input === undefined ? {} : { inputTokens: input }),
    ...(output === undefined ? {} : { outputTokens: output }),
    ...(cached === undefined || input === undefined ? {} : { cachedTokens: Math.min(cached, input) }),
    ...(reasoning === undefined || output === undefined
      ? {}
      : { reasoningTokens: Math.min(reasoning, output) }),
  };
}
