/**
 * The embedders of log search. With OPENAI_API_KEY: the embeddings API with
 * EMBEDDING_MODEL, asked for EMBEDDING_DIMENSIONS dimensions. Without: a
 * deterministic local embedder (feature hashing of words and character
 * trigrams), which matches shared wording, not meaning, and says so
 * (`semantic: false`). Nothing is downloaded at run time: no npm package
 * ships a usable small sentence-embedding model.
 *
 * An index holds the vectors of one embedder only: `key` (model and size)
 * names it, and the indexer refuses to add vectors of another (indexer.ts).
 */
import type OpenAI from 'openai';
import type { Config } from '../config.js';
import { openaiClient } from '../openai-client.js';
import { tokenize } from './text.js';

/** Dimensions of every index: 256 keeps int8 vectors at 256 bytes and separates log messages well. */
export const EMBEDDING_DIMENSIONS = 256;
export const LOCAL_EMBEDDER_MODEL = 'local-hash-v1';

export interface EmbedderInfo {
  /** `openai` or `local`. */
  kind: 'openai' | 'local';
  model: string;
  dims: number;
  /** True when vectors carry meaning (a trained model); false for the local hashing embedder. */
  semantic: boolean;
  /** The index identity: `<model>@<dims>`. Two embedders with one key give comparable vectors. */
  key: string;
}

export interface Embedder extends EmbedderInfo {
  /** Unit-length vectors, one per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** FNV-1a, 32 bits: fast and stable across runs and machines. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** Adds `weight` to the signed bucket of a feature. */
function addFeature(vector: Float32Array, feature: string, weight: number): void {
  const hash = fnv1a(feature);
  const index = hash % vector.length;
  vector[index] = (vector[index] as number) + (hash & 0x80000000 ? -weight : weight);
}

/** The local embedding of one text: words (weight 1) and their character trigrams (weight 0.4). */
export function localEmbedding(text: string, dims = EMBEDDING_DIMENSIONS): Float32Array {
  const vector = new Float32Array(dims);
  const { terms } = tokenize(text.replace(/<(n|id|hex|uuid)>/g, ' '));
  for (const term of terms) {
    if (/^\d+$/.test(term)) continue;
    addFeature(vector, `w:${term}`, 1);
    const padded = `^${term}$`;
    for (let i = 0; i + 3 <= padded.length; i++) addFeature(vector, `c:${padded.slice(i, i + 3)}`, 0.4);
  }
  return normalise(vector);
}

export function localEmbedder(dims = EMBEDDING_DIMENSIONS): Embedder {
  return {
    kind: 'local',
    model: LOCAL_EMBEDDER_MODEL,
    dims,
    semantic: false,
    key: `${LOCAL_EMBEDDER_MODEL}@${dims}`,
    embed: async (texts) => texts.map((text) => localEmbedding(text, dims)),
  };
}

/** Inputs per embeddings request (the API takes up to 2,048). */
const OPENAI_BATCH = 512;

export function openaiEmbedder(options: {
  apiKey: string;
  baseURL: string | undefined;
  model: string;
  dims?: number;
  timeoutMs?: number;
}): Embedder {
  const dims = options.dims ?? EMBEDDING_DIMENSIONS;
  // The SDK is imported on first use: functions that only describe the
  // embedder (the logs function's /logs/status) never load it.
  const openai = (): Promise<OpenAI> =>
    openaiClient('embeddings', {
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeoutMs: options.timeoutMs ?? 20_000,
      maxRetries: 2,
    });
  return {
    kind: 'openai',
    model: options.model,
    dims,
    semantic: true,
    key: `${options.model}@${dims}`,
    async embed(texts) {
      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += OPENAI_BATCH) {
        const batch = texts.slice(start, start + OPENAI_BATCH);
        const answer = await (await openai()).embeddings.create({
          model: options.model,
          input: batch as string[],
          dimensions: dims,
        });
        const ordered = [...answer.data].sort((a, b) => a.index - b.index);
        if (ordered.length !== batch.length) {
          throw new Error(`embeddings: asked for ${batch.length} vectors, got ${ordered.length}`);
        }
        for (const item of ordered) {
          if (item.embedding.length !== dims) {
            throw new Error(`embeddings: expected ${dims} dimensions, got ${item.embedding.length}`);
          }
          // The API returns unit vectors at full size; re-normalise in case a proxy truncated them.
          vectors.push(normalise(Float32Array.from(item.embedding)));
        }
      }
      return vectors;
    },
  };
}

/** The configured embedder: OpenAI with a key, the local one without. */
export function embedderFor(config: Config): Embedder {
  if (!config.openaiApiKey) return localEmbedder();
  return openaiEmbedder({
    apiKey: config.openaiApiKey,
    baseURL: config.openaiBaseUrl,
    model: config.embeddingModel,
    timeoutMs: config.httpTimeoutMs,
  });
}

/** What an answer says about an embedder. */
export const describeEmbedder = (e: EmbedderInfo): EmbedderInfo => ({
  kind: e.kind,
  model: e.model,
  dims: e.dims,
  semantic: e.semantic,
  key: e.key,
});
