/**
 * Relevance on labelled simulator scenarios: for each query, the share of
 * the top 10 hits that come from the scenario the query is about
 * (recall@10 of that scenario: every scenario has more than 10 lines in the
 * range), hybrid (BM25 + local vectors, RRF) against BM25 alone. Printed, and
 * held to a floor so a ranking regression fails.
 */
import { describe, expect, it } from 'vitest';
import { localEmbedder } from './embedder.js';
import { segmentWithVectors } from './indexer.js';
import type { LogLine } from './schema.js';
import { searchLogs } from './search.js';
import { buildSegment, type Segment } from './segment.js';
import { type Scenario, simulateLogLines } from './simulator.js';
import { messageTemplate, templateHash } from './text.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 30, 0);
const HOURS = 6;

const QUERIES: [string, Scenario][] = [
  ['rate limit reached', 'rate_limit'],
  ['too many requests, retrying', 'rate_limit'],
  ['request timed out', 'timeout'],
  ['timeouts', 'timeout'],
  ['context length exceeded', 'context_length'],
  ['prompt too long for the model maximum context', 'context_length'],
  ['content filter blocked the answer', 'content_filter'],
  ['flagged prompt', 'content_filter'],
  ['slow streaming first token', 'slow_stream'],
  ['server overloaded', 'server_error'],
  ['upstream 502 bad gateway', 'server_error'],
  ['deployment rolled out new version', 'deploy'],
  // Paraphrases sharing no word with the lines: what a semantic embedder is for.
  ['throttling', 'rate_limit'],
  ['input exceeds the token limit', 'context_length'],
  ['moderation', 'content_filter'],
  ['release', 'deploy'],
];

async function segments(withVectors: boolean): Promise<Segment[]> {
  const embedder = localEmbedder();
  const out: Segment[] = [];
  for (let h = 0; h < HOURS; h++) {
    const lines = simulateLogLines(START + h * HOUR, START + (h + 1) * HOUR);
    if (!withVectors) {
      out.push(buildSegment(`h${h}`, lines));
      continue;
    }
    const templateOf = new Map(lines.map((l) => [l.id, templateHash(messageTemplate(l.message))]));
    const texts = new Map(
      lines.map((l) => [templateHash(messageTemplate(l.message)), messageTemplate(l.message)]),
    );
    const hashes = [...texts.keys()];
    const vectors = await embedder.embed(hashes.map((hash) => texts.get(hash) as string));
    out.push(
      segmentWithVectors(
        `h${h}`,
        lines,
        embedder,
        templateOf,
        new Map(hashes.map((hash, i) => [hash, vectors[i] as Float32Array])),
      ),
    );
  }
  return out;
}

async function recallAt10(indexed: Segment[], query: string, scenario: Scenario) {
  const answer = await searchLogs(
    { query, from: START, to: START + HOURS * HOUR, k: 10 },
    {
      embedder: localEmbedder(),
      segments: async () => ({
        segments: indexed,
        read: indexed.length,
        cached: 0,
        bytes: 0,
        truncated: false,
      }),
      tail: async () => ({ lines: [] as LogLine[], truncated: false }),
    },
  );
  const right = answer.hits.filter((h) => h.line.attributes?.scenario === scenario).length;
  return { recall: right / 10, mode: answer.mode };
}

describe('relevance on simulator scenarios', () => {
  it('prints recall@10, hybrid against BM25 alone', async () => {
    const hybridSegments = await segments(true);
    const bm25Segments = await segments(false);
    // Every scenario has more than 10 lines in the range, so recall@10 can reach 1.
    const counts = new Map<string, number>();
    for (const s of bm25Segments) {
      for (const line of s.lines) {
        const scenario = line.attributes?.scenario as string;
        counts.set(scenario, (counts.get(scenario) ?? 0) + 1);
      }
    }
    for (const [, scenario] of QUERIES) expect(counts.get(scenario)).toBeGreaterThan(10);

    const rows: string[] = [];
    let hybridSum = 0;
    let bm25Sum = 0;
    for (const [query, scenario] of QUERIES) {
      const hybrid = await recallAt10(hybridSegments, query, scenario);
      const bm25 = await recallAt10(bm25Segments, query, scenario);
      expect(hybrid.mode).toBe('hybrid');
      expect(bm25.mode).toBe('bm25');
      hybridSum += hybrid.recall;
      bm25Sum += bm25.recall;
      rows.push(
        `${query.padEnd(48)} ${scenario.padEnd(15)} ${hybrid.recall.toFixed(1).padStart(6)} ${bm25.recall.toFixed(1).padStart(6)}`,
      );
    }
    const hybridMean = hybridSum / QUERIES.length;
    const bm25Mean = bm25Sum / QUERIES.length;
    console.log(
      [
        `recall@10 over ${QUERIES.length} queries, ${HOURS} h of simulated lines (local embedder, semantic: false)`,
        `${'query'.padEnd(48)} ${'scenario'.padEnd(15)} hybrid   bm25`,
        ...rows,
        `${'mean'.padEnd(64)} ${hybridMean.toFixed(2).padStart(6)} ${bm25Mean.toFixed(2).padStart(6)}`,
      ].join('\n'),
    );
    // Floors a ranking regression would break (measured: see the printed table).
    expect(hybridMean).toBeGreaterThanOrEqual(0.6);
    expect(bm25Mean).toBeGreaterThanOrEqual(0.5);
    expect(hybridMean).toBeGreaterThanOrEqual(bm25Mean);
  });
});
