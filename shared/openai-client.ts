/**
 * The one place an OpenAI SDK client is made. The SDK (~150 KB minified) is
 * imported on first use, so it is a chunk of its own that a function loads
 * only when a request calls OpenAI (infra/constructs/bundling.ts), not at
 * every cold start. Each use (probes, the chat answer, embeddings, monitor
 * drafts) keeps one client for the life of the process, so its connections
 * are reused; a new one replaces it when its settings change (the config's
 * key or base URL).
 */
import type OpenAI from 'openai';

export type OpenAiClientUse = 'probe' | 'chat' | 'embeddings' | 'draft';

export interface OpenAiClientOptions {
  /** Without one, a placeholder: the simulator accepts any key, and the SDK refuses an empty one. */
  apiKey: string | undefined;
  /** Without one, the SDK's default (api.openai.com). */
  baseURL?: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  /** The probes' timed fetch (shared/probes/timed-fetch.ts); by default the SDK's own. */
  fetch?: typeof fetch;
}

let sdk: Promise<typeof import('openai')> | undefined;
let loaded: typeof import('openai') | undefined;

/** The SDK module, imported once. */
export function openaiSdk(): Promise<typeof import('openai')> {
  sdk ??= import('openai').then((module) => {
    loaded = module;
    return module;
  });
  return sdk;
}

/**
 * The SDK module if a client was made, else undefined: enough to tell the
 * SDK's errors apart (`instanceof loadedOpenAiSdk()?.APIError`), since only a
 * client throws them.
 */
export const loadedOpenAiSdk = (): typeof import('openai') | undefined => loaded;

const clients = new Map<OpenAiClientUse, { options: OpenAiClientOptions; client: Promise<OpenAI> }>();

const sameOptions = (a: OpenAiClientOptions, b: OpenAiClientOptions) =>
  a.apiKey === b.apiKey &&
  a.baseURL === b.baseURL &&
  a.timeoutMs === b.timeoutMs &&
  a.maxRetries === b.maxRetries &&
  a.fetch === b.fetch;

/** The client for one use: the cached one while its options are the same, else a new one. */
export function openaiClient(use: OpenAiClientUse, options: OpenAiClientOptions): Promise<OpenAI> {
  const cached = clients.get(use);
  if (cached && sameOptions(cached.options, options)) return cached.client;
  const client = openaiSdk().then(
    ({ default: OpenAI }) =>
      new OpenAI({
        apiKey: options.apiKey ?? 'simulated',
        ...(options.baseURL ? { baseURL: options.baseURL } : {}),
        timeout: options.timeoutMs,
        maxRetries: options.maxRetries,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
  );
  clients.set(use, { options: { ...options }, client });
  return client;
}
