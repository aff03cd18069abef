/**
 * The embeddings indexer: takes pending lines (oldest first), embeds each
 * distinct message template once (vectors cached in the table by template
 * hash, so a template is embedded once per index, ever), writes one segment
 * per hour of the lines into the bucket with its manifest item, then drops
 * the pending copies. An hour with more than MAX_SEGMENTS_PER_HOUR segments
 * is compacted into one, and so is each closed day (compaction.ts; vectors
 * are reused, nothing is embedded again).
 *
 * An index holds one embedder's vectors: the first run records its key
 * (`<model>@<dims>`) in the index state, and a run with another embedder is
 * refused (IndexEmbedderMismatch) rather than mixing vectors.
 *
 * Crash safety: the segment and its manifest item are written before the
 * pending copies are deleted (a line that ends up in two segments is found
 * once: search results are unique by line id); compaction swaps segments as
 * compaction.ts says.
 */
import { clock } from '../clock.js';
import { type Config, getConfig } from '../config.js';
import { logger } from '../logger.js';
import { DAY_MS, floorTo, HOUR_MS } from '../store/keys.js';
import {
  claimLogIndexState,
  countPendingLines,
  deletePendingPacks,
  type PendingPack,
  putTemplateVectors,
  readPendingPacks,
  readTemplateVectors,
} from '../store/logs.js';
import {
  type CompactionAnswer,
  compactClosedDays,
  compactHour,
  newSegmentId,
  writeIndexedSegment,
} from './compaction.js';
import { describeEmbedder, type Embedder, type EmbedderInfo, embedderFor } from './embedder.js';
import type { LogLine } from './schema.js';
import { buildSegment, type Segment, type SegmentVectors } from './segment.js';
import { messageTemplate, templateHash } from './text.js';

export { MAX_SEGMENTS_PER_HOUR } from './compaction.js';
export const INDEX_DEFAULT_LIMIT = 5000;
export const INDEX_MAX_LIMIT = 50_000;
/** Pending lines counted per shard for the backlog figure. */
const PENDING_COUNT_CAP = 100_000;

export class IndexEmbedderMismatch extends Error {
  constructor(
    readonly indexKey: string,
    readonly embedderKey: string,
  ) {
    super(
      `the log index holds vectors of ${indexKey}; the configured embedder is ${embedderKey}. Vectors of two models or sizes are never mixed: restore the embedder's settings (OPENAI_API_KEY, EMBEDDING_MODEL)`,
    );
    this.name = 'IndexEmbedderMismatch';
  }
}

export interface IndexAnswer {
  /** Lines put into segments by this run. */
  indexed: number;
  /** Pending lines dropped without indexing: past retention. */
  skipped: number;
  /** Lines still waiting (counted up to a cap: `pendingCapped`). */
  pending: number;
  pendingCapped: boolean;
  embedder: EmbedderInfo;
  templates: { distinct: number; embedded: number; cached: number };
  /** Segments written, and hours compacted (more than MAX_SEGMENTS_PER_HOUR segments). */
  segments: { written: number; compacted: number };
  /** Closed days compacted, compacted segments written, replaced segments deleted (compaction.ts). */
  days: CompactionAnswer;
}

/** Template vectors for lines, embedding only templates the index has never seen. */
async function vectorsFor(
  config: Config,
  embedder: Embedder,
  lines: readonly LogLine[],
): Promise<{ templateOf: Map<string, string>; vectors: Map<string, Float32Array>; embedded: number }> {
  const templateOf = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const line of lines) {
    const template = messageTemplate(line.message);
    const hash = templateHash(template);
    templateOf.set(line.id, hash);
    texts.set(hash, template);
  }
  const vectors = await readTemplateVectors(config.tableName, embedder.key, [...texts.keys()]);
  const missing = [...texts.keys()].filter((hash) => !vectors.has(hash));
  if (missing.length > 0) {
    const embedded = await embedder.embed(missing.map((hash) => texts.get(hash) as string));
    const fresh = new Map(missing.map((hash, i) => [hash, embedded[i] as Float32Array]));
    await putTemplateVectors(config.tableName, embedder.key, fresh);
    for (const [hash, vector] of fresh) vectors.set(hash, vector);
  }
  return { templateOf, vectors, embedded: missing.length };
}

/** Builds a segment of lines with their template vectors. */
export function segmentWithVectors(
  id: string,
  lines: readonly LogLine[],
  embedder: { key: string; dims: number },
  templateOf: ReadonlyMap<string, string>,
  vectors: ReadonlyMap<string, Float32Array>,
  templateText: (hash: string) => string = (hash) => hash,
): Segment {
  const position = new Map<string, number>();
  const segmentVectors: SegmentVectors = {
    embedder: embedder.key,
    dims: embedder.dims,
    templates: [],
    vectors: [],
    templateOf: [],
  };
  for (const line of lines) {
    const hash = templateOf.get(line.id) as string;
    let t = position.get(hash);
    if (t === undefined) {
      t = segmentVectors.templates.length;
      position.set(hash, t);
      segmentVectors.templates.push(templateText(hash));
      segmentVectors.vectors.push(vectors.get(hash) as Float32Array);
    }
    segmentVectors.templateOf.push(t);
  }
  return buildSegment(id, lines, segmentVectors);
}

/** One indexer run: at most `limit` pending lines with ts >= `since`. */
export async function indexPendingLogs(
  options: { limit?: number; since?: number } = {},
  embedder: Embedder = embedderFor(getConfig()),
): Promise<IndexAnswer> {
  const config = getConfig();
  const now = clock.now();
  const limit = Math.min(options.limit ?? INDEX_DEFAULT_LIMIT, INDEX_MAX_LIMIT);
  const state = await claimLogIndexState(config.tableName, {
    indexKey: embedder.key,
    model: embedder.model,
    dims: embedder.dims,
    createdAt: now,
  });
  if (state.indexKey !== embedder.key) throw new IndexEmbedderMismatch(state.indexKey, embedder.key);

  const from = Math.max(options.since ?? 0, now - config.retentionDays * DAY_MS - DAY_MS);
  const { packs } = await readPendingPacks(
    config.tableName,
    { from, to: now + DAY_MS, now },
    limit,
    'oldest',
  );
  const expired = packs.filter((p) => p.expired);
  if (expired.length > 0)
    await deletePendingPacks(
      config.tableName,
      expired.map((p) => p.key),
    );
  // Whole packs, oldest hour first, up to the limit (at least one pack).
  const taken: PendingPack[] = [];
  let count = 0;
  for (const pack of packs) {
    if (pack.expired) continue;
    if (taken.length > 0 && count + pack.lines.length > limit) break;
    taken.push(pack);
    count += pack.lines.length;
  }
  const batch = taken.flatMap((p) => p.lines);

  const { templateOf, vectors, embedded } = await vectorsFor(config, embedder, batch);
  const byHour = new Map<number, PendingPack[]>();
  for (const pack of taken) {
    const hour = floorTo((pack.lines[0] as LogLine).ts, HOUR_MS);
    const list = byHour.get(hour) ?? [];
    if (list.length === 0) byHour.set(hour, list);
    list.push(pack);
  }
  const templateTexts = new Map(
    batch.map((l) => [templateOf.get(l.id) as string, messageTemplate(l.message)]),
  );
  let written = 0;
  let compacted = 0;
  for (const [hour, hourPacks] of byHour) {
    const hourLines = hourPacks.flatMap((p) => p.lines);
    const segment = segmentWithVectors(
      newSegmentId(now),
      hourLines,
      embedder,
      templateOf,
      vectors,
      (hash) => templateTexts.get(hash) ?? hash,
    );
    await writeIndexedSegment(config, embedder.key, hour, segment, now);
    written++;
    await deletePendingPacks(
      config.tableName,
      hourPacks.map((p) => p.key),
    );
    if (await compactHour(config, embedder.key, hour, now)) compacted++;
  }
  const days = await compactClosedDays(config, embedder.key, now);
  const pending = await countPendingLines(config.tableName, PENDING_COUNT_CAP);
  const answer: IndexAnswer = {
    indexed: batch.length,
    skipped: expired.reduce((sum, p) => sum + p.lines.length, 0),
    pending: pending.count,
    pendingCapped: pending.capped,
    embedder: describeEmbedder(embedder),
    templates: { distinct: vectors.size, embedded, cached: vectors.size - embedded },
    segments: { written, compacted },
    days,
  };
  if (batch.length > 0 || days.written > 0 || days.dropped > 0) logger.info('log index run', { ...answer });
  return answer;
}
