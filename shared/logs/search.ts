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
import {
  liveSegmentEntries,
  readLogIndexState,
  readPendingPacks,
  readSegmentEntries,
} from '../store/logs.js';
import { describeEmbedder, type Embedder, type EmbedderInfo, embedderFor } from './embedder.js';
import type { LogLine } from './schema.js';
import {
  buildSegment,
  type Candidates,
  candidateMask,
  countInRange,
  idMatches,
  type LineFilter,
  lowerBound,
  postingsOf,
  type Segment,
  templateSimilarity,
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
  scope: number;
  doc: number;
  score: number;
}

/** A segment of the search and its candidates (segment.ts candidateMask). */
interface Scope extends Candidates {
  segment: Segment;
}

const isCandidate = (scope: Scope, doc: number) =>
  doc >= scope.start && doc < scope.end && (!scope.mask || scope.mask[doc] === 1);

/**
 * Order of a ranked list: higher score, then the newer line, then the line
 * id. The id decides only between lines of equal score and time, so lines
 * are parsed for it rarely; a list ranks the same however the lines are
 * split into segments (compaction changes no answer).
 */
const byScoreThenTime = (scopes: readonly Scope[]) => (a: Ref, b: Ref) => {
  const sa = (scopes[a.scope] as Scope).segment;
  const sb = (scopes[b.scope] as Scope).segment;
  const order = b.score - a.score || (sb.ts[b.doc] as number) - (sa.ts[a.doc] as number);
  if (order !== 0) return order;
  const idA = sa.lineId(a.doc);
  const idB = sb.lineId(b.doc);
  return idA < idB ? -1 : idA > idB ? 1 : 0;
};

/** The best LIST_DEPTH refs: a threshold from the scores (a typed-array sort), then a sort of the few at or above it. */
function best(refs: Ref[], scopes: readonly Scope[]): Ref[] {
  let kept = refs;
  if (refs.length > LIST_DEPTH * 2) {
    const scores = Float64Array.from(refs, (r) => r.score).sort();
    const threshold = scores[scores.length - LIST_DEPTH] as number;
    kept = refs.filter((r) => r.score >= threshold);
  }
  return kept.sort(byScoreThenTime(scopes)).slice(0, LIST_DEPTH);
}

/** Scratch arrays of the BM25 pass, grown to the largest segment and reused (a search runs synchronously per segment). */
let scratchScores = new Float64Array(0);
let scratchTouched = new Uint32Array(0);

/**
 * The `size` best scores offered so far (a min-heap): `offer` says whether a
 * score can still be among the best (ties with the worst kept included, for
 * the order's later tie-breaks).
 */
class TopScores {
  private readonly heap: Float64Array;
  private count = 0;
  constructor(private readonly size: number) {
    this.heap = new Float64Array(size);
  }

  offer(score: number): boolean {
    const heap = this.heap;
    if (this.count < this.size) {
      let at = this.count++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if ((heap[parent] as number) <= score) break;
        heap[at] = heap[parent] as number;
        at = parent;
      }
      heap[at] = score;
      return true;
    }
    const worst = heap[0] as number;
    if (score < worst) return false;
    if (score === worst) return true;
    // Replace the worst and sift down.
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= score) break;
      heap[at] = heap[child] as number;
      at = child;
    }
    heap[at] = score;
    return true;
  }
}

/**
 * BM25 over the candidates. The statistics (lines, their mean length, each
 * term's document frequency) are those of every line in the time range,
 * whatever the other filters and however the lines are split into segments:
 * scores do not change when segments are compacted.
 */
function bm25List(scopes: readonly Scope[], terms: readonly string[], ids: readonly string[]): Ref[] {
  let totalDocs = 0;
  let totalLength = 0;
  for (const { segment, start, end } of scopes) {
    totalDocs += end - start;
    totalLength += (segment.lengthBefore[end] as number) - (segment.lengthBefore[start] as number);
  }
  if (totalDocs === 0) return [];
  const avgLength = totalLength / totalDocs;
  const idMatchesByScope = scopes.map(({ segment, start, end }) =>
    ids.map((id) => idMatches(segment, id).filter((doc) => doc >= start && doc < end)),
  );
  const df = new Map<string, number>();
  for (const term of terms) {
    let n = 0;
    for (const { segment, start, end } of scopes) {
      const postings = postingsOf(segment, term);
      if (postings) n += countInRange(postings.docs, start, end);
    }
    df.set(term, n);
  }
  ids.forEach((id, i) => {
    let n = 0;
    for (const matches of idMatchesByScope) n += (matches[i] as number[]).length;
    df.set(id, n);
  });
  const idf = (term: string) => {
    const n = df.get(term) ?? 0;
    return Math.log(1 + (totalDocs - n + 0.5) / (n + 0.5));
  };
  const refs: Ref[] = [];
  const top = new TopScores(LIST_DEPTH);
  scopes.forEach((scope, s) => {
    const { segment, start, end, mask, count } = scope;
    if (count === 0) return;
    if (scratchScores.length < segment.count) {
      scratchScores = new Float64Array(segment.count);
      scratchTouched = new Uint32Array(segment.count);
    }
    const scores = scratchScores;
    const touched = scratchTouched;
    let touchedCount = 0;
    const docLength = segment.docLength;
    const add = (doc: number, tf: number, weight: number) => {
      const norm = 1 - BM25_B + (BM25_B * (docLength[doc] as number)) / avgLength;
      if (scores[doc] === 0) touched[touchedCount++] = doc;
      scores[doc] = (scores[doc] as number) + (weight * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm);
    };
    for (const term of terms) {
      const postings = postingsOf(segment, term);
      if (!postings) continue;
      const weight = idf(term);
      const { docs, tfs } = postings;
      const last = lowerBound(docs, end);
      for (let i = lowerBound(docs, start); i < last; i++) {
        const doc = docs[i] as number;
        if (mask && mask[doc] !== 1) continue;
        add(doc, tfs[i] as number, weight);
      }
    }
    ids.forEach((id, i) => {
      const weight = idf(id);
      for (const doc of (idMatchesByScope[s] as number[][])[i] as number[]) {
        if (!mask || mask[doc] === 1) add(doc, 1, weight);
      }
    });
    // Only lines at or above the LIST_DEPTH-th best score seen so far can make the list: keep refs (objects) few.
    for (let i = 0; i < touchedCount; i++) {
      const doc = touched[i] as number;
      const score = scores[doc] as number;
      scores[doc] = 0;
      if (top.offer(score)) refs.push({ scope: s, doc, score });
    }
  });
  return best(refs, scopes);
}

/**
 * The LIST_DEPTH candidates most similar to the query: the similarity of a
 * line is its template's, so templates are ranked (each distinct template's
 * similarity computed once, whatever the segments holding it), and lines
 * taken from the most similar templates down, newest first among equals.
 * Segments are visited newest first, and one whose newest candidate is older
 * than the lines already taken for a similarity is not visited at all.
 */
function vectorList(scopes: readonly Scope[], query: Float32Array, indexKey: string): Ref[] {
  const simOfTemplate = new Map<string, number>();
  const entries: { sim: number; scope: number; t: number; newest: number }[] = [];
  scopes.forEach((scope, s) => {
    const { segment, end, count } = scope;
    if (count === 0 || segment.embedder !== indexKey || segment.templates.length === 0) return;
    for (let t = 0; t < segment.templates.length; t++) {
      const text = segment.templates[t] as string;
      let sim = simOfTemplate.get(text);
      if (sim === undefined) {
        sim = templateSimilarity(segment, t, query);
        simOfTemplate.set(text, sim);
      }
      // No similarity is no match (a query of ids alone embeds to nothing with the local embedder).
      if (sim > 0) entries.push({ sim, scope: s, t, newest: segment.ts[end - 1] as number });
    }
  });
  entries.sort((a, b) => b.sim - a.sim || b.newest - a.newest);
  const order = byScoreThenTime(scopes);
  const list: Ref[] = [];
  for (let i = 0; i < entries.length && list.length < LIST_DEPTH; ) {
    // One similarity at a time: its lines compete by time.
    const sim = (entries[i] as { sim: number }).sim;
    const need = LIST_DEPTH - list.length;
    let taken: Ref[] = [];
    let oldestKept = Number.NEGATIVE_INFINITY;
    for (; i < entries.length && (entries[i] as { sim: number }).sim === sim; i++) {
      const entry = entries[i] as { scope: number; t: number; newest: number };
      if (taken.length >= need && entry.newest < oldestKept) continue;
      const scope = scopes[entry.scope] as Scope;
      const { segment } = scope;
      let fromThis = 0;
      for (
        let at = segment.templateDocStart[entry.t] as number;
        at < (segment.templateDocStart[entry.t + 1] as number) && fromThis < need;
        at++
      ) {
        const doc = segment.templateDocs[at] as number;
        // Newest first: past the range's start, nothing older can match.
        if (doc < scope.start) break;
        if (!isCandidate(scope, doc)) continue;
        taken.push({ scope: entry.scope, doc, score: sim });
        fromThis++;
      }
      if (taken.length >= need) {
        taken = taken.sort(order).slice(0, need);
        const last = taken[taken.length - 1] as Ref;
        oldestKept = (scopes[last.scope] as Scope).segment.ts[last.doc] as number;
      }
    }
    list.push(...taken.sort(order));
  }
  return list;
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
  const scopes: Scope[] = segments.map((segment) => ({ segment, ...candidateMask(segment, params) }));
  const candidates = scopes.reduce((sum, scope) => sum + scope.count, 0);
  const notes: string[] = [];
  const withVectors = source.segments.filter((s) => s.embedder === deps.embedder.key);
  const otherIndex = source.segments.find((s) => s.embedder && s.embedder !== deps.embedder.key);
  if (otherIndex) {
    notes.push(
      `segments embedded with ${otherIndex.embedder} are searched by full text only: the query embedder is ${deps.embedder.key}`,
    );
  }
  const mode = withVectors.length > 0 ? 'hybrid' : 'bm25';
  const lexical = terms.length + ids.length > 0 ? bm25List(scopes, terms, ids) : [];
  let semantic: Ref[] = [];
  if (mode === 'hybrid' && candidates > 0) {
    const [vector] = await deps.embedder.embed([params.query]);
    semantic = vectorList(scopes, vector as Float32Array, deps.embedder.key);
  }

  // Fusion, unique by line id: a line indexed twice (or both indexed and in the tail) keeps its best ranks.
  // Lines are parsed for the k hits only.
  type Fused = Omit<LogHit, 'line' | 'matched'> & { segment: Segment; doc: number; ts: number };
  const fused = new Map<string, Fused>();
  const addList = (list: readonly Ref[], which: 'bm25' | 'vector') => {
    let rank = 0;
    for (const ref of list) {
      const segment = (scopes[ref.scope] as Scope).segment;
      const id = segment.lineId(ref.doc);
      let hit = fused.get(id);
      if (hit?.ranks[which] != null) continue;
      rank++;
      if (!hit) {
        hit = {
          id,
          segment,
          doc: ref.doc,
          ts: segment.ts[ref.doc] as number,
          score: 0,
          ranks: { bm25: null, vector: null },
          scores: { bm25: null, vector: null },
        };
        fused.set(id, hit);
      }
      hit.ranks[which] = rank;
      hit.scores[which] = Number(ref.score.toFixed(6));
      hit.score += 1 / (RRF_K + rank);
    }
  };
  addList(lexical, 'bm25');
  addList(semantic, 'vector');
  const wanted = new Set([...terms, ...ids]);
  const hits: LogHit[] = [...fused.values()]
    // Equal fused scores: a full-text match first (exact tokens outrank a lookalike), then the newer line.
    .sort(
      (a, b) =>
        b.score - a.score ||
        (a.ranks.bm25 ?? Number.POSITIVE_INFINITY) - (b.ranks.bm25 ?? Number.POSITIVE_INFINITY) ||
        b.ts - a.ts ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
    .slice(0, params.k)
    .map(({ segment, doc, ts: _ts, ...hit }) => {
      const line = segment.line(doc);
      return { ...hit, line, score: Number(hit.score.toFixed(6)), matched: matchedTerms(line, wanted) };
    });
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
      const inRange = liveSegmentEntries(entries).filter((e) => e.maxTs >= range.from && e.minTs <= range.to);
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
