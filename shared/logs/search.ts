/**
 * Hybrid log search: full text (BM25 over the segments' postings and the
 * unindexed tail) and vector similarity (the query's embedding against the
 * segments' template vectors), fused by Reciprocal Rank Fusion,
 * score = Σ 1 / (60 + rank). Filters (time, endpoint, model, region, level)
 * apply before ranking, so `k` hits are the best of the matching lines.
 *
 * `searchLogs(params, deps)` is the domain entry (the chat builds on it);
 * `defaultSearchDeps()` wires it to the table and the bucket.
 */
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import { readLogIndexState, readPendingPacks, readSegmentEntries } from '../store/logs.js';
import { describeEmbedder, type Embedder, type EmbedderInfo, embedderFor } from './embedder.js';
import type { LogLine } from './schema.js';
import {
  buildSegment,
  candidateMask,
  idMatches,
  type LineFilter,
  postingsOf,
  type Segment,
  templateSimilarities,
} from './segment.js';
import { loadSegment } from './segments-store.js';
import { searchableText, tokenize } from './text.js';

/** RRF's rank constant, as Elasticsearch, OpenSearch and Azure AI Search default it. */
export const RRF_K = 60;
/** How deep each ranked list goes into the fusion. */
const LIST_DEPTH = 200;
const BM25_K1 = 1.2;
const BM25_B = 0.75;
/** Segments one search reads at most (24 h holds about 24 to 200). */
export const MAX_SEGMENTS_PER_SEARCH = 2000;
/** Unindexed lines one search reads at most (whole pending packs: a little more). */
export const TAIL_MAX_LINES = 4000;

export interface SearchParams extends LineFilter {
  query: string;
  k: number;
}

export interface SegmentSource {
  segments: Segment[];
  /** Objects fetched from the bucket, and how many came from the cache. */
  read: number;
  cached: number;
  bytes: number;
  truncated: boolean;
}

export interface SearchDeps {
  embedder: Embedder;
  /** The index's segments overlapping the range. */
  segments(range: { from: number; to: number }): Promise<SegmentSource>;
  /** Lines not indexed yet in the range (newest first, capped). */
  tail(range: { from: number; to: number }): Promise<{ lines: LogLine[]; truncated: boolean }>;
}

export interface LogHit {
  /** The line's stable id: `GET /logs/{id}` returns it; the chat cites it. */
  id: string;
  line: LogLine;
  /** The fused (RRF) score. */
  score: number;
  /** 1-based rank in each list, null when the line is not in it. */
  ranks: { bm25: number | null; vector: number | null };
  scores: { bm25: number | null; vector: number | null };
  /** Query terms found in the line (for highlighting). */
  matched: string[];
}

export interface SearchAnswer {
  query: string;
  /** `hybrid`: both lists fused; `bm25`: full text only (no vectors of this embedder in the range). */
  mode: 'hybrid' | 'bm25';
  embedder: EmbedderInfo;
  range: { from: number; to: number };
  k: number;
  hits: LogHit[];
  /** Lines that passed the filters (indexed and tail). */
  candidates: number;
  segments: { read: number; cached: number; bytes: number; truncated: boolean };
  /** Unindexed lines searched by full text, and whether there were more than were read. */
  tail: { lines: number; truncated: boolean };
  notes: string[];
}

interface Ref {
  segment: number;
  doc: number;
  score: number;
}

/** The best LIST_DEPTH refs: a threshold from the scores (a typed-array sort), then a sort of the few above it. */
function best(refs: Ref[], segments: readonly Segment[]): Ref[] {
  let kept = refs;
  if (refs.length > LIST_DEPTH * 2) {
    const scores = Float64Array.from(refs, (r) => r.score).sort();
    const threshold = scores[scores.length - LIST_DEPTH] as number;
    kept = refs.filter((r) => r.score >= threshold);
  }
  return kept.sort(byScoreThenTime(segments)).slice(0, LIST_DEPTH);
}

/** Newest first among equal scores. */
const byScoreThenTime = (segments: readonly Segment[]) => (a: Ref, b: Ref) =>
  b.score - a.score ||
  ((segments[b.segment] as Segment).ts[b.doc] as number) -
    ((segments[a.segment] as Segment).ts[a.doc] as number);

function bm25List(
  segments: readonly Segment[],
  masks: readonly Uint8Array[],
  terms: readonly string[],
  ids: readonly string[],
): Ref[] {
  let totalDocs = 0;
  let totalLength = 0;
  for (const s of segments) {
    totalDocs += s.lines.length;
    totalLength += s.totalLength;
  }
  if (totalDocs === 0) return [];
  const avgLength = totalLength / totalDocs;
  // Document frequency over every segment in range (not just the filtered lines): stable IDF.
  const idMatchesBySegment = segments.map((s) => ids.map((id) => idMatches(s, id)));
  const df = new Map<string, number>();
  for (const term of terms) {
    let n = 0;
    for (const s of segments) n += postingsOf(s, term)?.docs.length ?? 0;
    df.set(term, n);
  }
  ids.forEach((id, i) => {
    let n = 0;
    for (const matches of idMatchesBySegment) n += (matches[i] as number[]).length;
    df.set(id, n);
  });
  const idf = (term: string) => {
    const n = df.get(term) ?? 0;
    return Math.log(1 + (totalDocs - n + 0.5) / (n + 0.5));
  };
  const refs: Ref[] = [];
  segments.forEach((segment, s) => {
    const mask = masks[s] as Uint8Array;
    const scores = new Float32Array(segment.lines.length);
    const touched: number[] = [];
    const add = (doc: number, tf: number, weight: number) => {
      if (!mask[doc]) return;
      const norm = 1 - BM25_B + (BM25_B * (segment.docLength[doc] as number)) / avgLength;
      if (scores[doc] === 0) touched.push(doc);
      scores[doc] = (scores[doc] as number) + (weight * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm);
    };
    for (const term of terms) {
      const postings = postingsOf(segment, term);
      if (!postings) continue;
      const weight = idf(term);
      for (let i = 0; i < postings.docs.length; i++)
        add(postings.docs[i] as number, postings.tfs[i] as number, weight);
    }
    ids.forEach((id, i) => {
      const weight = idf(id);
      for (const doc of (idMatchesBySegment[s] as number[][])[i] as number[]) add(doc, 1, weight);
    });
    // Only this segment's best LIST_DEPTH can reach the fused list: keep refs (objects) few.
    let threshold = Number.NEGATIVE_INFINITY;
    if (touched.length > LIST_DEPTH) {
      const sorted = Float32Array.from(touched, (doc) => scores[doc] as number).sort();
      threshold = sorted[sorted.length - LIST_DEPTH] as number;
    }
    for (const doc of touched) {
      if ((scores[doc] as number) >= threshold) refs.push({ segment: s, doc, score: scores[doc] as number });
    }
  });
  return best(refs, segments);
}

function vectorList(
  segments: readonly Segment[],
  masks: readonly Uint8Array[],
  query: Float32Array,
  indexKey: string,
): Ref[] {
  const refs: Ref[] = [];
  segments.forEach((segment, s) => {
    if (segment.embedder !== indexKey || segment.templates.length === 0) return;
    const mask = masks[s] as Uint8Array;
    const sims = templateSimilarities(segment, query);
    const order = Array.from(sims.keys()).sort((a, b) => (sims[b] as number) - (sims[a] as number));
    let taken = 0;
    for (const t of order) {
      // No similarity is no match (a query of ids alone embeds to nothing with the local embedder).
      if (taken >= LIST_DEPTH || (sims[t] as number) <= 0) break;
      for (
        let i = segment.templateDocStart[t] as number;
        i < (segment.templateDocStart[t + 1] as number);
        i++
      ) {
        const doc = segment.templateDocs[i] as number;
        if (!mask[doc]) continue;
        refs.push({ segment: s, doc, score: sims[t] as number });
        if (++taken >= LIST_DEPTH) break;
      }
    }
  });
  return best(refs, segments);
}

/** The query terms a line holds (for highlighting). */
function matchedTerms(line: LogLine, wanted: ReadonlySet<string>): string[] {
  const { terms, ids } = tokenize(searchableText(line));
  return [...new Set([...terms, ...ids].filter((t) => wanted.has(t)))];
}

export async function searchLogs(params: SearchParams, deps: SearchDeps): Promise<SearchAnswer> {
  const range = { from: params.from, to: params.to };
  const { terms: rawTerms, ids } = tokenize(params.query);
  const terms = [...new Set(rawTerms)];
  const [source, tail] = await Promise.all([deps.segments(range), deps.tail(range)]);
  const segments = [...source.segments];
  if (tail.lines.length > 0) segments.push(buildSegment('tail', tail.lines));
  const masks: Uint8Array[] = [];
  let candidates = 0;
  for (const segment of segments) {
    const { mask, count } = candidateMask(segment, params);
    masks.push(mask);
    candidates += count;
  }
  const notes: string[] = [];
  const withVectors = source.segments.filter((s) => s.embedder === deps.embedder.key);
  const otherIndex = source.segments.find((s) => s.embedder && s.embedder !== deps.embedder.key);
  if (otherIndex) {
    notes.push(
      `segments embedded with ${otherIndex.embedder} are searched by full text only: the query embedder is ${deps.embedder.key}`,
    );
  }
  const mode = withVectors.length > 0 ? 'hybrid' : 'bm25';
  const lexical = terms.length + ids.length > 0 ? bm25List(segments, masks, terms, ids) : [];
  let semantic: Ref[] = [];
  if (mode === 'hybrid' && candidates > 0) {
    const [vector] = await deps.embedder.embed([params.query]);
    semantic = vectorList(segments, masks, vector as Float32Array, deps.embedder.key);
  }

  // Fusion, unique by line id: a line indexed twice (or both indexed and in the tail) keeps its best ranks.
  const fused = new Map<string, LogHit>();
  const addList = (list: readonly Ref[], which: 'bm25' | 'vector') => {
    let rank = 0;
    for (const ref of list) {
      const line = (segments[ref.segment] as Segment).lines[ref.doc] as LogLine;
      let hit = fused.get(line.id);
      if (hit?.ranks[which] != null) continue;
      rank++;
      if (!hit) {
        hit = {
          id: line.id,
          line,
          score: 0,
          ranks: { bm25: null, vector: null },
          scores: { bm25: null, vector: null },
          matched: [],
        };
        fused.set(line.id, hit);
      }
      hit.ranks[which] = rank;
      hit.scores[which] = Number(ref.score.toFixed(6));
      hit.score += 1 / (RRF_K + rank);
    }
  };
  addList(lexical, 'bm25');
  addList(semantic, 'vector');
  const wanted = new Set([...terms, ...ids]);
  const hits = [...fused.values()]
    // Equal fused scores: a full-text match first (exact tokens outrank a lookalike), then the newer line.
    .sort(
      (a, b) =>
        b.score - a.score ||
        (a.ranks.bm25 ?? Number.POSITIVE_INFINITY) - (b.ranks.bm25 ?? Number.POSITIVE_INFINITY) ||
        b.line.ts - a.line.ts,
    )
    .slice(0, params.k)
    .map((hit) => ({ ...hit, score: Number(hit.score.toFixed(6)), matched: matchedTerms(hit.line, wanted) }));
  if (tail.truncated) {
    notes.push('more unindexed lines than one search reads: the newest were searched; run the indexer');
  }
  return {
    query: params.query,
    mode,
    embedder: describeEmbedder(deps.embedder),
    range,
    k: params.k,
    hits,
    candidates,
    segments: { read: source.read, cached: source.cached, bytes: source.bytes, truncated: source.truncated },
    tail: { lines: tail.lines.length, truncated: tail.truncated },
    notes,
  };
}

/** The index key in force, once known: it never changes (the indexer refuses another embedder). */
const indexInForce = new Map<string, string>();

/** The search's dependencies on the configured table, bucket and embedder. */
export function defaultSearchDeps(embedder: Embedder = embedderFor(getConfig())): SearchDeps {
  const config = getConfig();
  return {
    embedder,
    async segments(range) {
      // The index in force (whichever embedder built it): its lines are searched by full text at least.
      if (!indexInForce.has(config.tableName)) {
        const state = await readLogIndexState(config.tableName);
        if (state) indexInForce.set(config.tableName, state.indexKey);
      }
      const { entries, truncated } = await readSegmentEntries(
        config.tableName,
        indexInForce.get(config.tableName) ?? embedder.key,
        { ...range, now: clock.now() },
        MAX_SEGMENTS_PER_SEARCH,
      );
      const inRange = entries.filter((e) => e.maxTs >= range.from && e.minTs <= range.to);
      const loaded: Segment[] = [];
      let cached = 0;
      let bytes = 0;
      // A few at a time: each is a GET and a decode.
      for (let i = 0; i < inRange.length; i += 8) {
        const batch = await Promise.all(
          inRange.slice(i, i + 8).map((e) => loadSegment(config.artifactsBucket, e.objectKey)),
        );
        for (const one of batch) {
          loaded.push(one.segment);
          if (one.cached) cached++;
          bytes += one.bytes;
        }
      }
      return { segments: loaded, read: inRange.length, cached, bytes, truncated };
    },
    async tail(range) {
      const { packs, truncated } = await readPendingPacks(
        config.tableName,
        { ...range, now: clock.now() },
        TAIL_MAX_LINES,
      );
      const lines = packs
        .filter((p) => !p.expired)
        .flatMap((p) => p.lines)
        .filter((l) => l.ts >= range.from && l.ts <= range.to);
      return { lines, truncated };
    },
  };
}
