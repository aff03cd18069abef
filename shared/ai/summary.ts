/**
 * Plain sentences made by code from the figures and the evidence, each claim
 * followed by its citation ([E1]). `/ai/summary` returns them for a range;
 * the chat's default (LLM-free) answer is the same sentences, chosen and
 * ordered for the question's topics and endpoints.
 */
import type { TraceEvent } from '../events/model.js';
import { neutralizeBidi } from '../text.js';
import {
  EvidenceBook,
  incidentEvidence,
  type LogHit,
  logEvidence,
  metricEvidence,
  traceEvidence,
} from './evidence.js';
import type { AiMetrics, AiOverview, EndpointFigures } from './metrics.js';
import type { Topic } from './question.js';

export interface Sentence {
  text: string;
  /** The evidence ids the sentence cites, in order. */
  cites: string[];
}

const percent = (rate: number | null) =>
  rate === null ? 'n/a' : `${(rate * 100).toFixed(rate >= 0.9995 ? 0 : 1)}%`;
const ms = (value: number | null) =>
  value === null ? 'n/a' : `${Math.round(value).toLocaleString('en-US')} ms`;
const count = (n: number) => n.toLocaleString('en-US');
const utc = (t: number) => new Date(t).toISOString().slice(11, 16);
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function span(from: number, to: number): string {
  const sameDay = day(from) === day(to);
  return sameDay
    ? `${day(from)} ${utc(from)}–${utc(to)} UTC`
    : `${day(from)} ${utc(from)} to ${day(to)} ${utc(to)} UTC`;
}

function errorMix(errors: Record<string, number>, limit = 3): string {
  return Object.entries(errors)
    .sort(([, a], [, b]) => b - a)
    .slice(0, limit)
    .map(([type, n]) => `${count(n)} ${type}`)
    .join(', ');
}

/** Quoted user data (log lines, labels) never carries formatting controls into an answer. */
const quote = (text: string, max = 120) => {
  const clean = neutralizeBidi(text.replace(/\s+/g, ' ').trim());
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
};

function cite(text: string, ...ids: string[]): Sentence {
  const unique = [...new Set(ids)];
  return { text: `${text} ${unique.map((id) => `[${id}]`).join('')}`, cites: unique };
}

/** An endpoint is worth a sentence when it failed or got slower than before. */
function attention(e: EndpointFigures): number {
  const failRate = e.total > 0 ? e.failed / e.total : 0;
  const slower = e.previous?.p95Ms && e.p95Ms ? e.p95Ms / e.previous.p95Ms : 1;
  return failRate * 10 + Math.max(0, slower - 1);
}

export interface SummaryInput {
  /**
   * The figures. With the overview only (the two ranges' status), the
   * sentences stop before the buckets, incidents and examples; given the full
   * metrics later, the same sentences come first, then the rest.
   */
  metrics: AiOverview | AiMetrics;
  book: EvidenceBook;
  now: number;
  /** Endpoints the question names: they come first, and only they when given. */
  endpoints?: readonly string[];
  topics?: readonly Topic[];
  traces?: readonly TraceEvent[];
  logs?: readonly LogHit[];
  /** How the range was named, e.g. "around 14:00 UTC". */
  rangeLabel?: string;
}

/** The sentences, most telling first; every one cites at least one piece of evidence. */
export function summarySentences(input: SummaryInput): Sentence[] {
  const { metrics, book, now } = input;
  const topics = new Set(input.topics ?? []);
  const all = topics.size === 0;
  const sentences: Sentence[] = [];
  const window = input.rangeLabel
    ? `${input.rangeLabel} (${span(metrics.window.from, metrics.window.to)})`
    : span(metrics.window.from, metrics.window.to);
  const o = metrics.overall;

  const overall = metricEvidence(
    book,
    o.query,
    `All selected endpoints, ${span(metrics.window.from, metrics.window.to)}: ${count(o.total)} calls, ${percent(o.successRate)} ok, p95 ${ms(o.p95Ms)}${o.failed > 0 ? `, errors ${errorMix(o.errors)}` : ''}.`,
    now,
  );
  if (o.total === 0) {
    sentences.push(cite(`There were no calls in ${window}.`, overall.id));
    return sentences;
  }
  const before = o.previous
    ? `; in the ${metrics.window.minutes >= 1440 ? 'previous period' : 'period before'} ${percent(o.previous.successRate)} with p95 ${ms(o.previous.p95Ms)}`
    : '';
  sentences.push(
    cite(
      `In ${window}, ${count(o.total)} calls were made and ${percent(o.successRate)} succeeded, p95 latency ${ms(o.p95Ms)}${before}.`,
      overall.id,
    ),
  );

  const named = new Set(input.endpoints ?? []);
  const endpoints = metrics.endpoints
    .filter((e) => named.size === 0 || named.has(e.endpoint))
    .sort((a, b) => attention(b) - attention(a) || a.endpoint.localeCompare(b.endpoint));
  const listed = named.size > 0 ? endpoints : endpoints.filter((e) => attention(e) > 0).slice(0, 3);
  for (const e of listed) {
    const evidence = metricEvidence(
      book,
      e.query,
      `${e.endpoint}: ${count(e.total)} calls, ${percent(e.successRate)} ok, p50 ${ms(e.p50Ms)}, p95 ${ms(e.p95Ms)}${e.failed > 0 ? `, errors ${errorMix(e.errors)}` : ''}${e.previous ? `; before: ${percent(e.previous.successRate)} ok, p95 ${ms(e.previous.p95Ms)}` : ''}.`,
      now,
    );
    const parts: string[] = [];
    if (all || topics.has('errors')) {
      parts.push(
        e.failed > 0
          ? `${e.endpoint} failed ${count(e.failed)} of ${count(e.total)} calls (${percent(e.successRate)} ok), mostly ${errorMix(e.errors, 2)}`
          : `${e.endpoint} had no failures in ${count(e.total)} calls`,
      );
    }
    if (all || topics.has('latency')) {
      const change =
        e.previous?.p95Ms && e.p95Ms
          ? e.p95Ms > e.previous.p95Ms * 1.1
            ? `, up from ${ms(e.previous.p95Ms)}`
            : e.p95Ms < e.previous.p95Ms * 0.9
              ? `, down from ${ms(e.previous.p95Ms)}`
              : `, about as before (${ms(e.previous.p95Ms)})`
          : '';
      parts.push(`${parts.length > 0 ? 'its' : `${e.endpoint}'s`} p95 was ${ms(e.p95Ms)}${change}`);
    }
    if (topics.has('cost')) {
      parts.push(
        `${parts.length > 0 ? 'it' : e.endpoint} used ${count(e.tokens.input + e.tokens.output)} tokens for about $${e.costUsd.toFixed(4)}`,
      );
    }
    if (parts.length > 0) sentences.push(cite(`${capitalize(parts.join('; '))}.`, evidence.id));
  }
  if (topics.has('cost') && named.size === 0) {
    sentences.push(
      cite(
        `Together the calls used ${count(o.tokens.input + o.tokens.output)} tokens for about $${o.costUsd.toFixed(4)}.`,
        overall.id,
      ),
    );
  }
  if (!('worst' in metrics)) return sentences;

  for (const reason of ['failures', 'latency'] as const) {
    if (!(all || topics.has(reason === 'failures' ? 'errors' : 'latency'))) continue;
    const worst = metrics.worst.filter((w) => w.reason === reason).slice(0, 2);
    if (worst.length === 0) continue;
    const cited = worst.map((w) => {
      const label = w.bucketMs === 60_000 ? `${utc(w.t)} UTC` : `${utc(w.t)}–${utc(w.t + w.bucketMs)} UTC`;
      const evidence = metricEvidence(
        book,
        w.query,
        `${day(w.t)} ${label}: ${count(w.total)} calls, ${count(w.failed)} failed, p95 ${ms(w.p95Ms)}${w.failed > 0 ? `, errors ${errorMix(w.errors)}` : ''}.`,
        now,
      );
      const detail =
        reason === 'failures'
          ? `${count(w.failed)} of ${count(w.total)} calls failed (${errorMix(w.errors, 2)})`
          : `p95 ${ms(w.p95Ms)}`;
      return { text: `${label}, ${detail}`, id: evidence.id };
    });
    const unit = worst[0]?.bucketMs === 60_000 ? 'minute' : 'period';
    const what = reason === 'failures' ? 'worst' : 'slowest';
    sentences.push(
      cite(
        cited.length === 1
          ? `The ${what} ${unit} was ${cited[0]?.text}.`
          : `The ${what} ${unit}s were ${cited.map((c) => c.text).join('; and ')}.`,
        ...cited.map((c) => c.id),
      ),
    );
  }

  for (const incident of metrics.incidents.items.slice(0, 2)) {
    const evidence = incidentEvidence(
      book,
      incident,
      `Incident ${incident.id} (${incident.kind}): ${incident.title}; ${utc(incident.start)} UTC to ${incident.end === null ? 'now (ongoing)' : `${utc(incident.end)} UTC`}.`,
      now,
    );
    sentences.push(
      cite(
        `${incident.ongoing ? 'An ongoing' : 'An'} incident, "${quote(incident.title)}", started ${day(incident.start)} ${utc(incident.start)} UTC${incident.end === null ? '' : ` and ended ${utc(incident.end)} UTC`}.`,
        evidence.id,
      ),
    );
  }

  const traces = input.traces ?? [];
  if (traces.length > 0 && (all || topics.has('errors') || topics.has('latency'))) {
    const ids = traces.map((t) =>
      traceEvidence(
        book,
        t,
        `Trace ${t.id}: ${t.endpoint}${t.model ? ` ${t.model}` : ''} at ${day(t.ts)} ${utc(t.ts)} UTC, ${t.ok ? 'ok' : `failed (${t.errorType ?? 'error'}${t.status ? `, HTTP ${t.status}` : ''})`}, ${ms(t.latencyMs)}${t.errorMessage ? `: ${quote(t.errorMessage, 100)}` : ''}.`,
        now,
      ),
    );
    const kinds = errorMix(
      traces.reduce<Record<string, number>>((acc, t) => {
        const key = t.errorType ?? 'error';
        acc[key] = (acc[key] ?? 0) + 1;
        return acc;
      }, {}),
    );
    sentences.push(cite(`Example failing calls: ${kinds}.`, ...ids.map((e) => e.id)));
  }

  const logs = input.logs ?? [];
  for (const hit of logs.slice(0, 2)) {
    const evidence = logEvidence(
      book,
      hit,
      `Log ${hit.id} (${hit.level}) at ${day(hit.ts)} ${utc(hit.ts)} UTC${hit.endpoint ? `, ${hit.endpoint}` : ''}: ${quote(hit.message, 160)}`,
      now,
    );
    sentences.push(
      cite(
        `A matching ${hit.level} log line at ${utc(hit.ts)} UTC reads "${quote(hit.message)}".`,
        evidence.id,
      ),
    );
  }

  if (sentences.length === 1 && o.failed === 0) {
    sentences.push(cite('Every endpoint answered without a failure.', overall.id));
  }
  return sentences;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `GET /ai/summary`: the sentences for a range, with the evidence each one cites. */
export function aiSummary(metrics: AiMetrics, now: number) {
  const book = new EvidenceBook();
  const sentences = summarySentences({ metrics, book, now });
  return {
    generatedAt: now,
    window: metrics.window,
    filters: metrics.filters,
    text: sentences.map((s) => s.text).join(' '),
    sentences,
    evidence: book.items,
    meta: metrics.meta,
  };
}
