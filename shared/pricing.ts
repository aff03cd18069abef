/**
 * The price table, kept in one place as data with its source and date. The
 * server computes costs from it and `/config` hands it to the dashboard, so
 * both always agree.
 *
 * Cost = (input − cached) × input price + cached × cached price + output × output price.
 * Cached tokens are part of the input count and reasoning tokens part of the
 * output count: adding them again would double-charge.
 */

export interface ModelPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million cached input tokens; the input price when the model has no cache discount. */
  cachedInput: number;
  /** USD per million output tokens. */
  output: number;
}

export const PRICE_TABLE = {
  /** When the prices were checked. */
  asOf: '2026-11-01',
  source: 'https://openai.com/api/pricing (standard tier)',
  /** The Batch API costs half. */
  batchDiscount: 0.5,
  models: {
    'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
    'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
    'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
    'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
    'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
    'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
    'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
    'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
    'text-embedding-3-small': { input: 0.02, cachedInput: 0.02, output: 0 },
    'text-embedding-3-large': { input: 0.13, cachedInput: 0.13, output: 0 },
    'omni-moderation-latest': { input: 0, cachedInput: 0, output: 0 },
  } satisfies Record<string, ModelPrice>,
} as const;

export interface TokenUsage {
  input?: number | undefined;
  output?: number | undefined;
  /** Part of input. */
  cached?: number | undefined;
  /** Part of output. */
  reasoning?: number | undefined;
}

/**
 * The price of a model, also for dated snapshots (`gpt-4o-mini-2024-07-18`
 * is priced as `gpt-4o-mini`). Undefined for unknown models: "no price", never $0.
 */
export function priceOf(model: string | undefined): ModelPrice | undefined {
  if (!model) return undefined;
  const models: Record<string, ModelPrice> = PRICE_TABLE.models;
  const exact = models[model];
  if (exact) return exact;
  const undated = model.replace(/-\d{4}-\d{2}-\d{2}$/, '');
  return models[undated];
}

/** Estimated USD cost of one call, or undefined when the model has no price or no tokens were reported. */
export function estimateCost(
  model: string | undefined,
  usage: TokenUsage,
  options: { batch?: boolean } = {},
): number | undefined {
  const price = priceOf(model);
  if (!price) return undefined;
  if (usage.input === undefined && usage.output === undefined) return undefined;
  const input = usage.input ?? 0;
  const cached = Math.min(usage.cached ?? 0, input);
  const output = usage.output ?? 0;
  const dollars =
    ((input - cached) * price.input + cached * price.cachedInput + output * price.output) / 1_000_000;
  return options.batch ? dollars * PRICE_TABLE.batchDiscount : dollars;
}
