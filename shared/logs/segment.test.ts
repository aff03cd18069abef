import MiniSearch from 'minisearch';
import { describe, expect, it } from 'vitest';
import { localEmbedder } from './embedder.js';
import type { LogLine } from './schema.js';
import { searchLogs } from './search.js';
import {
  buildSegment,
  candidateMask,
  decodeSegment,
  encodeSegment,
  idMatches,
  mergeSegments,
  postingsOf,
  type Segment,
} from './segment.js';
import { simulateLogLines } from './simulator.js';
import { messageTemplate, searchableText, tokenize } from './text.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 30, 8);
const lines = simulateLogLines(START, START + HOUR);

/** Deps over in-memory segments: what searchLogs sees from the bucket and the table, without them. */
function memoryDeps(segments: Segment[], tail: LogLine[] = []) {
  return {
    embedder: localEmbedder(),
    segments: async () => ({ segments, read: segments.length, cached: 0, bytes: 0, truncated: false }),
    tail: async () => ({ lines: tail, truncated: false }),
  };
}

describe('text', () => {
  it('keeps compound tokens whole and by part, and ids out of the vocabulary', () => {
    const { terms, ids } = tokenize(
      'OpenAI API error 400 context_length_exceeded on gpt-4o-mini request_id=req_8f3a2b1c9d00',
    );
    expect(terms).toContain('context_length_exceeded');
    expect(terms).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt', '4o', 'mini', '400']));
    expect(ids).toEqual(['req_8f3a2b1c9d00']);
    expect(terms).not.toContain('req_8f3a2b1c9d00');
  });

  it('masks numbers, hex and ids, so lines of one statement share a template', () => {
    const a = messageTemplate('retrying /v1/responses after 2000 ms (attempt 2 of 5) req_0a1b2c3d4e5f6a7b');
    const b = messageTemplate('retrying /v1/responses after 15000 ms (attempt 3 of 5) req_ffffeeee99998888');
    expect(a).toBe(b);
    expect(a).toContain('<id>');
    expect(messageTemplate('trace 0123456789abcdef0123456789abcdef done')).toBe('trace <hex> done');
  });
});

describe('segment', () => {
  it('survives encoding: same lines, postings, ids and vectors', async () => {
    const embedder = localEmbedder();
    const templates = [...new Set(lines.map((l) => messageTemplate(l.message)))];
    const vectors = await embedder.embed(templates);
    const segment = buildSegment('s1', lines, {
      embedder: embedder.key,
      dims: embedder.dims,
      templates,
      vectors,
      templateOf: lines.map((l) => templates.indexOf(messageTemplate(l.message))),
    });
    const decoded = decodeSegment(encodeSegment(segment)).segment;
    expect(decoded.lines).toEqual(segment.lines);
    expect(decoded.embedder).toBe(embedder.key);
    expect([...decoded.terms.keys()]).toEqual([...segment.terms.keys()]);
    expect(postingsOf(decoded, 'rate_limit_exceeded')?.docs).toEqual(
      postingsOf(segment, 'rate_limit_exceeded')?.docs,
    );
    expect(decoded.templateVectors).toEqual(segment.templateVectors);
    expect(decoded.templateDocs).toEqual(segment.templateDocs);
    // Lines come out oldest first whatever the input order.
    expect([...decoded.ts]).toEqual([...decoded.ts].sort((a, b) => a - b));
  });

  it('finds an id-like token exactly, and only whole tokens', () => {
    const segment = buildSegment('s', lines);
    const wanted = lines.find((l) => l.requestId) as LogLine;
    const docs = idMatches(segment, wanted.requestId as string);
    expect(docs.map((d) => segment.lines[d]?.requestId)).toEqual(docs.map(() => wanted.requestId));
    expect(docs.length).toBeGreaterThan(0);
    expect(idMatches(segment, (wanted.requestId as string).slice(0, -2))).toEqual([]);
  });

  it('filters by time and labels before ranking', () => {
    const segment = buildSegment('s', lines);
    const from = START + 10 * 60_000;
    const to = START + 20 * 60_000;
    const { mask, count } = candidateMask(segment, { from, to, endpoint: ['chat'], level: ['error'] });
    const expected = lines.filter(
      (l) => l.ts >= from && l.ts <= to && l.endpoint === 'chat' && l.level === 'error',
    );
    expect(count).toBe(expected.length);
    segment.lines.forEach((line, doc) => {
      if (mask?.[doc]) expect(expected).toContainEqual(line);
    });
  });

  it('merging keeps each line once and carries the vectors without re-embedding', async () => {
    const embedder = localEmbedder();
    const build = (id: string, part: LogLine[]) => {
      const templates = [...new Set(part.map((l) => messageTemplate(l.message)))];
      return embedder.embed(templates).then((vectors) =>
        buildSegment(id, part, {
          embedder: embedder.key,
          dims: embedder.dims,
          templates,
          vectors,
          templateOf: part.map((l) => templates.indexOf(messageTemplate(l.message))),
        }),
      );
    };
    const half = Math.floor(lines.length / 2);
    const a = await build('a', lines.slice(0, half + 10));
    const b = await build('b', lines.slice(half));
    const merged = mergeSegments('m', [a, b]);
    expect(merged.lines.map((l) => l.id).sort()).toEqual(lines.map((l) => l.id).sort());
    const query = (await embedder.embed(['rate limit reached']))[0] as Float32Array;
    const one = await build('one', lines);
    const top = async (s: Segment) =>
      (
        await searchLogs(
          { query: 'rate limit reached', from: START, to: START + HOUR, k: 5 },
          memoryDeps([s]),
        )
      ).hits.map((h) => h.id);
    expect(await top(merged)).toEqual(await top(one));
    expect(query.length).toBe(256);
  });
});

describe('BM25 against MiniSearch as an oracle', () => {
  // Same tokens and pure BM25 (d = 0, b = 0.75) on both sides.
  const oracle = new MiniSearch<{ id: string; text: string }>({
    fields: ['text'],
    tokenize: (text) => {
      const { terms, ids } = tokenize(text);
      return [...terms, ...ids];
    },
    processTerm: (term) => term,
    searchOptions: {
      bm25: { k: 1.2, b: 0.75, d: 0 },
      tokenize: (t) => tokenize(t).terms.concat(tokenize(t).ids),
    },
  });
  oracle.addAll(lines.map((l) => ({ id: l.id, text: searchableText(l) })));
  const segment = buildSegment('s', lines);

  it.each(['context_length_exceeded', '429', 'timed', 'deploy', 'content_filter'])(
    'single term %s: same lines, same scores',
    async (term) => {
      const ours = await searchLogs(
        { query: term, from: START, to: START + HOUR, k: 100 },
        memoryDeps([segment]),
      );
      const theirs = oracle.search(term);
      expect(ours.mode).toBe('bm25');
      expect(ours.hits.length).toBe(Math.min(100, theirs.length));
      const theirScore = new Map(theirs.map((r) => [r.id as string, r.score]));
      for (const hit of ours.hits) {
        expect(hit.scores.bm25).toBeCloseTo(theirScore.get(hit.id) as number, 3);
      }
    },
  );

  it('multi-term queries match the same set of lines', async () => {
    for (const query of ['rate limit reached retry-after', 'server overloaded 503']) {
      const ours = await searchLogs({ query, from: START, to: START + HOUR, k: 100 }, memoryDeps([segment]));
      const theirs = oracle.search(query);
      if (theirs.length <= 100)
        expect(new Set(ours.hits.map((h) => h.id))).toEqual(new Set(theirs.map((r) => r.id)));
      // MiniSearch multiplies by the count of matched terms; the best line of both still matches every term.
      expect(ours.hits.length).toBeGreaterThan(0);
    }
  });
});
