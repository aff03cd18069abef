/**
 * A search segment: the lines of one hour (or part of it) with a BM25
 * postings index and int8 template vectors, in typed arrays, stored as one
 * gzipped object in the artifacts bucket (segments-store.ts) and searched in
 * memory (search.ts).
 *
 * Why not a library: MiniSearch needs 300–380 ms a query at 100,000 lines and
 * seconds at 1,000,000; Orama's vector search drops similarities under 0.8
 * and fuses by weighted sum (spec/search-chat-synthetics-facts.md). Postings in
 * typed arrays answer in milliseconds; segment.test.ts checks the ranking
 * against MiniSearch's BM25 as an oracle.
 *
 * Vectors are per message template (text.ts): lines of one log statement share
 * one vector, so a segment of 100,000 lines holds a few hundred vectors.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { LOG_LEVELS, type LogLevel, type LogLine } from './schema.js';
import { searchableText, tokenize } from './text.js';

const FORMAT_VERSION = 1;

export interface SegmentVectors {
  /** The embedder's index key (`<model>@<dims>`). */
  embedder: string;
  dims: number;
  /** Template texts, and per template its unit vector. */
  templates: string[];
  vectors: Float32Array[];
  /** Per line (in the order given to buildSegment), its template's position. */
  templateOf: number[];
}

export interface Segment {
  id: string;
  /** Index key of the vectors; undefined for a segment without vectors (the unindexed tail). */
  embedder: string | undefined;
  dims: number;
  /** Sorted by time, oldest first. */
  lines: LogLine[];
  ts: Float64Array;
  level: Uint8Array;
  labels: { endpoint: LabelColumn; model: LabelColumn; region: LabelColumn };
  terms: Map<string, number>;
  postingStart: Uint32Array;
  postingDoc: Uint32Array;
  postingTf: Uint16Array;
  docLength: Uint16Array;
  totalLength: number;
  /** Each line's id-like tokens as ` a b ` (text.ts), joined; idStart[i] is where line i starts. */
  idText: string;
  idStart: Uint32Array;
  templates: string[];
  templateOf: Uint32Array;
  templateVectors: Int8Array;
  templateScale: Float32Array;
  /** Docs of each template, newest first: templateDocs[templateDocStart[t] .. templateDocStart[t+1]). */
  templateDocStart: Uint32Array;
  templateDocs: Uint32Array;
}

export interface LabelColumn {
  /** Value 0 is "not set". */
  values: string[];
  codes: Uint32Array;
}

function labelColumn(lines: readonly LogLine[], pick: (line: LogLine) => string | undefined): LabelColumn {
  const values = [''];
  const index = new Map<string, number>();
  const codes = new Uint32Array(lines.length);
  lines.forEach((line, i) => {
    const value = pick(line);
    if (value === undefined) return;
    let code = index.get(value);
    if (code === undefined) {
      code = values.length;
      values.push(value);
      index.set(value, code);
    }
    codes[i] = code;
  });
  return { values, codes };
}

/** Quantises a unit vector to int8 with its own scale (cosine ≈ dot(q, v) × scale). */
function quantise(vector: Float32Array, into: Int8Array, offset: number): number {
  let max = 0;
  for (const x of vector) max = Math.max(max, Math.abs(x));
  const scale = max > 0 ? max / 127 : 1;
  for (let i = 0; i < vector.length; i++) into[offset + i] = Math.round((vector[i] as number) / scale);
  return scale;
}

/** Builds a segment from lines (any order) and, when the index has them, their template vectors. */
export function buildSegment(id: string, input: readonly LogLine[], vectors?: SegmentVectors): Segment {
  const order = input.map((_, i) => i).sort((a, b) => (input[a] as LogLine).ts - (input[b] as LogLine).ts);
  const lines = order.map((i) => input[i] as LogLine);
  const count = lines.length;
  const ts = Float64Array.from(lines, (l) => l.ts);
  const level = Uint8Array.from(lines, (l) => LOG_LEVELS.indexOf(l.level));

  // Postings: term → (doc, tf) pairs, docs ascending.
  const postings = new Map<string, number[]>();
  const docLength = new Uint16Array(count);
  const idParts: string[] = [];
  const idStart = new Uint32Array(count + 1);
  let idOffset = 0;
  let totalLength = 0;
  lines.forEach((line, doc) => {
    const { terms, ids } = tokenize(searchableText(line));
    const tf = new Map<string, number>();
    for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
    // Length = distinct tokens, as MiniSearch (the test oracle) counts it; log lines rarely repeat words.
    docLength[doc] = Math.min(tf.size + ids.length, 65_535);
    totalLength += docLength[doc] as number;
    for (const [term, n] of tf) {
      const list = postings.get(term) ?? [];
      if (list.length === 0) postings.set(term, list);
      list.push(doc, Math.min(n, 65_535));
    }
    const text = ids.length > 0 ? ` ${ids.join(' ')} ` : ' ';
    idStart[doc] = idOffset;
    idParts.push(text);
    idOffset += text.length;
  });
  idStart[count] = idOffset;
  const sortedTerms = [...postings.keys()].sort();
  const terms = new Map<string, number>();
  const postingStart = new Uint32Array(sortedTerms.length + 1);
  let pairs = 0;
  for (const term of sortedTerms) pairs += (postings.get(term) as number[]).length / 2;
  const postingDoc = new Uint32Array(pairs);
  const postingTf = new Uint16Array(pairs);
  let at = 0;
  sortedTerms.forEach((term, t) => {
    terms.set(term, t);
    postingStart[t] = at;
    const list = postings.get(term) as number[];
    for (let i = 0; i < list.length; i += 2) {
      postingDoc[at] = list[i] as number;
      postingTf[at] = list[i + 1] as number;
      at++;
    }
  });
  postingStart[sortedTerms.length] = at;

  const templates = vectors?.templates ?? [];
  const dims = vectors?.dims ?? 0;
  const templateOf = new Uint32Array(count);
  if (vectors) {
    order.forEach((from, doc) => {
      templateOf[doc] = vectors.templateOf[from] as number;
    });
  }
  const templateVectors = new Int8Array(templates.length * dims);
  const templateScale = new Float32Array(templates.length);
  vectors?.vectors.forEach((v, t) => {
    templateScale[t] = quantise(v, templateVectors, t * dims);
  });

  return withTemplateDocs({
    id,
    embedder: vectors?.embedder,
    dims,
    lines,
    ts,
    level,
    labels: {
      endpoint: labelColumn(lines, (l) => l.endpoint),
      model: labelColumn(lines, (l) => l.model),
      region: labelColumn(lines, (l) => l.region),
    },
    terms,
    postingStart,
    postingDoc,
    postingTf,
    docLength,
    totalLength,
    idText: idParts.join(''),
    idStart,
    templates,
    templateOf,
    templateVectors,
    templateScale,
  });
}

function withTemplateDocs(segment: Omit<Segment, 'templateDocStart' | 'templateDocs'>): Segment {
  const count = segment.lines.length;
  const templateDocStart = new Uint32Array(segment.templates.length + 1);
  const templateDocs = new Uint32Array(segment.templates.length > 0 ? count : 0);
  if (segment.templates.length > 0) {
    for (let doc = 0; doc < count; doc++) {
      const next = (segment.templateOf[doc] as number) + 1;
      templateDocStart[next] = (templateDocStart[next] as number) + 1;
    }
    for (let t = 0; t < segment.templates.length; t++) {
      templateDocStart[t + 1] = (templateDocStart[t + 1] as number) + (templateDocStart[t] as number);
    }
    const fill = templateDocStart.slice(0, -1);
    // Newest first: walk the docs (oldest first) backwards.
    for (let doc = count - 1; doc >= 0; doc--) {
      const t = segment.templateOf[doc] as number;
      templateDocs[fill[t] as number] = doc;
      fill[t] = (fill[t] as number) + 1;
    }
  }
  return { ...segment, templateDocStart, templateDocs };
}

/** The vectors of a segment as SegmentVectors (to rebuild it merged with others: no re-embedding). */
export function segmentVectors(segment: Segment): SegmentVectors | undefined {
  if (!segment.embedder) return undefined;
  const vectors = segment.templates.map((_, t) => {
    const v = new Float32Array(segment.dims);
    const scale = segment.templateScale[t] as number;
    for (let i = 0; i < segment.dims; i++)
      v[i] = (segment.templateVectors[t * segment.dims + i] as number) * scale;
    return v;
  });
  return {
    embedder: segment.embedder,
    dims: segment.dims,
    templates: segment.templates,
    vectors,
    templateOf: [...segment.templateOf],
  };
}

/** Merges segments of one index into one (compaction); a line in two segments is kept once. */
export function mergeSegments(id: string, segments: readonly Segment[]): Segment {
  const lines: LogLine[] = [];
  const seen = new Set<string>();
  const templates: string[] = [];
  const vectors: Float32Array[] = [];
  const templateIndex = new Map<string, number>();
  const templateOf: number[] = [];
  const embedder = segments.find((s) => s.embedder)?.embedder;
  const dims = segments.find((s) => s.embedder)?.dims ?? 0;
  for (const segment of segments) {
    if (segment.embedder !== embedder) throw new Error('mergeSegments: segments of two indexes');
    const own = segmentVectors(segment);
    segment.lines.forEach((line, doc) => {
      if (seen.has(line.id)) return;
      seen.add(line.id);
      lines.push(line);
      if (!own) return;
      const template = own.templates[segment.templateOf[doc] as number] as string;
      let t = templateIndex.get(template);
      if (t === undefined) {
        t = templates.length;
        templates.push(template);
        vectors.push(own.vectors[segment.templateOf[doc] as number] as Float32Array);
        templateIndex.set(template, t);
      }
      templateOf.push(t);
    });
  }
  return buildSegment(id, lines, embedder ? { embedder, dims, templates, vectors, templateOf } : undefined);
}

// ------------------------------------------------------------ encoding

type Section = Uint8Array | Uint16Array | Uint32Array | Int8Array | Float32Array | Float64Array;

/** The segment as bytes: a JSON header, then its arrays and texts, gzipped. */
export function encodeSegment(segment: Segment): Buffer {
  const texts = {
    lines: JSON.stringify(segment.lines),
    terms: [...segment.terms.keys()].join('\n'),
    idText: segment.idText,
    templates: JSON.stringify(segment.templates),
  };
  const arrays: Record<string, Section> = {
    ts: segment.ts,
    level: segment.level,
    endpoint: segment.labels.endpoint.codes,
    model: segment.labels.model.codes,
    region: segment.labels.region.codes,
    postingStart: segment.postingStart,
    postingDoc: segment.postingDoc,
    postingTf: segment.postingTf,
    docLength: segment.docLength,
    idStart: segment.idStart,
    templateOf: segment.templateOf,
    templateVectors: segment.templateVectors,
    templateScale: segment.templateScale,
  };
  const parts: Buffer[] = [];
  const layout: Record<string, [number, number]> = {};
  let offset = 0;
  const add = (name: string, bytes: Buffer) => {
    layout[name] = [offset, bytes.byteLength];
    parts.push(bytes);
    offset += bytes.byteLength;
  };
  for (const [name, array] of Object.entries(arrays)) {
    add(name, Buffer.from(array.buffer, array.byteOffset, array.byteLength));
  }
  for (const [name, text] of Object.entries(texts)) add(name, Buffer.from(text, 'utf8'));
  const header = Buffer.from(
    JSON.stringify({
      version: FORMAT_VERSION,
      id: segment.id,
      embedder: segment.embedder ?? null,
      dims: segment.dims,
      totalLength: segment.totalLength,
      labels: {
        endpoint: segment.labels.endpoint.values,
        model: segment.labels.model.values,
        region: segment.labels.region.values,
      },
      layout,
    }),
    'utf8',
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.byteLength);
  return gzipSync(Buffer.concat([length, header, ...parts]), { level: 6 });
}

interface Header {
  version: number;
  id: string;
  embedder: string | null;
  dims: number;
  totalLength: number;
  labels: { endpoint: string[]; model: string[]; region: string[] };
  layout: Record<string, [number, number]>;
}

export function decodeSegment(bytes: Uint8Array): Segment {
  const raw = gunzipSync(bytes);
  const headerLength = raw.readUInt32LE(0);
  const header = JSON.parse(raw.subarray(4, 4 + headerLength).toString('utf8')) as Header;
  if (header.version !== FORMAT_VERSION) throw new Error(`segment format ${header.version} is not supported`);
  const base = 4 + headerLength;
  const section = (name: string) => {
    const [offset, length] = header.layout[name] as [number, number];
    // A copy: typed arrays need their own aligned buffer.
    return raw.slice(base + offset, base + offset + length);
  };
  const text = (name: string) => section(name).toString('utf8');
  const buffer = (name: string) => {
    const bytes = section(name);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  };
  const termList = text('terms');
  const terms = new Map<string, number>();
  if (termList !== '') {
    termList.split('\n').forEach((term, t) => {
      terms.set(term, t);
    });
  }
  return withTemplateDocs({
    id: header.id,
    embedder: header.embedder ?? undefined,
    dims: header.dims,
    lines: JSON.parse(text('lines')) as LogLine[],
    ts: new Float64Array(buffer('ts')),
    level: new Uint8Array(buffer('level')),
    labels: {
      endpoint: { values: header.labels.endpoint, codes: new Uint32Array(buffer('endpoint')) },
      model: { values: header.labels.model, codes: new Uint32Array(buffer('model')) },
      region: { values: header.labels.region, codes: new Uint32Array(buffer('region')) },
    },
    terms,
    postingStart: new Uint32Array(buffer('postingStart')),
    postingDoc: new Uint32Array(buffer('postingDoc')),
    postingTf: new Uint16Array(buffer('postingTf')),
    docLength: new Uint16Array(buffer('docLength')),
    totalLength: header.totalLength,
    idText: text('idText'),
    idStart: new Uint32Array(buffer('idStart')),
    templates: JSON.parse(text('templates')) as string[],
    templateOf: new Uint32Array(buffer('templateOf')),
    templateVectors: new Int8Array(buffer('templateVectors')),
    templateScale: new Float32Array(buffer('templateScale')),
  });
}

// ------------------------------------------------------------ matching

export interface LineFilter {
  from: number;
  to: number;
  endpoint?: readonly string[] | undefined;
  model?: readonly string[] | undefined;
  region?: readonly string[] | undefined;
  level?: readonly LogLevel[] | undefined;
}

/** First index whose ts is >= value (ts ascending). */
function lowerBound(ts: Float64Array, value: number): number {
  let low = 0;
  let high = ts.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((ts[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function allowedCodes(column: LabelColumn, wanted: readonly string[] | undefined): Uint8Array | undefined {
  if (!wanted) return undefined;
  const allowed = new Uint8Array(column.values.length);
  column.values.forEach((value, code) => {
    if (code > 0 && wanted.includes(value)) allowed[code] = 1;
  });
  return allowed;
}

/** The lines passing the filter, as a mask (1 = candidate), and how many there are. */
export function candidateMask(segment: Segment, filter: LineFilter): { mask: Uint8Array; count: number } {
  const mask = new Uint8Array(segment.lines.length);
  const start = lowerBound(segment.ts, filter.from);
  const end = lowerBound(segment.ts, filter.to + 1);
  const endpoint = allowedCodes(segment.labels.endpoint, filter.endpoint);
  const model = allowedCodes(segment.labels.model, filter.model);
  const region = allowedCodes(segment.labels.region, filter.region);
  const levels = filter.level?.map((l) => LOG_LEVELS.indexOf(l));
  let count = 0;
  for (let doc = start; doc < end; doc++) {
    if (endpoint && !endpoint[segment.labels.endpoint.codes[doc] as number]) continue;
    if (model && !model[segment.labels.model.codes[doc] as number]) continue;
    if (region && !region[segment.labels.region.codes[doc] as number]) continue;
    if (levels && !levels.includes(segment.level[doc] as number)) continue;
    mask[doc] = 1;
    count++;
  }
  return { mask, count };
}

/** The docs holding an id-like token exactly, ascending. */
export function idMatches(segment: Segment, token: string): number[] {
  const docs: number[] = [];
  const needle = ` ${token} `;
  let at = segment.idText.indexOf(needle);
  while (at !== -1) {
    // The doc whose id text holds position `at`: the last start <= at.
    let low = 0;
    let high = segment.lines.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if ((segment.idStart[mid] as number) <= at) low = mid;
      else high = mid - 1;
    }
    if (docs[docs.length - 1] !== low) docs.push(low);
    // Skip to the next doc: each token appears once per doc.
    at = segment.idText.indexOf(needle, segment.idStart[low + 1] as number);
  }
  return docs;
}

/** The postings of a vocabulary term: docs ascending and their term frequencies. */
export function postingsOf(
  segment: Segment,
  term: string,
): { docs: Uint32Array; tfs: Uint16Array } | undefined {
  const t = segment.terms.get(term);
  if (t === undefined) return undefined;
  const start = segment.postingStart[t] as number;
  const end = segment.postingStart[t + 1] as number;
  return { docs: segment.postingDoc.subarray(start, end), tfs: segment.postingTf.subarray(start, end) };
}

/** Cosine similarity of the query vector to each template of the segment. */
export function templateSimilarities(segment: Segment, query: Float32Array): Float32Array {
  const sims = new Float32Array(segment.templates.length);
  const dims = segment.dims;
  for (let t = 0; t < segment.templates.length; t++) {
    let dot = 0;
    const offset = t * dims;
    for (let i = 0; i < dims; i++)
      dot += (query[i] as number) * (segment.templateVectors[offset + i] as number);
    sims[t] = dot * (segment.templateScale[t] as number);
  }
  return sims;
}
