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
  /** Lines in the segment. */
  count: number;
  /** Line `doc` (decoded segments parse it on demand: a search reads a few dozen of a million). */
  line(doc: number): LogLine;
  /** The id of line `doc`, without parsing the line (format 2 keeps the ids in the index). */
  lineId(doc: number): string;
  /** Every line, sorted by time, oldest first (decoded segments parse them all: compaction, tests). */
  readonly lines: LogLine[];
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
  /** lengthBefore[i]: the summed docLength of docs 0 .. i-1 (BM25's statistics over a time range). */
  lengthBefore: Float64Array;
}

/** What decoding derives rather than stores. */
type Derived = 'templateDocStart' | 'templateDocs' | 'lengthBefore' | 'line' | 'lines' | 'lineId';

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

  return withDerived(
    {
      id,
      embedder: vectors?.embedder,
      dims,
      count,
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
    },
    lines,
  );
}

function withDerived(
  segment: Omit<Segment, Derived>,
  lines: LogLine[] | { parse(doc: number): LogLine; parseAll(): LogLine[]; id(doc: number): string },
): Segment {
  const count = segment.count;
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
  const lengthBefore = new Float64Array(count + 1);
  for (let doc = 0; doc < count; doc++) {
    lengthBefore[doc + 1] = (lengthBefore[doc] as number) + (segment.docLength[doc] as number);
  }
  if (Array.isArray(lines)) {
    return {
      ...segment,
      templateDocStart,
      templateDocs,
      lengthBefore,
      lines,
      line: (doc) => lines[doc] as LogLine,
      lineId: (doc) => (lines[doc] as LogLine).id,
    };
  }
  let all: LogLine[] | undefined;
  return {
    ...segment,
    templateDocStart,
    templateDocs,
    lengthBefore,
    line: (doc) => (all ? (all[doc] as LogLine) : lines.parse(doc)),
    lineId: lines.id,
    get lines() {
      all ??= lines.parseAll();
      return all;
    },
  };
}

/**
 * Merges segments of one index into one (compaction); a line in two segments
 * is kept once. Template vectors are carried over as quantised (not rebuilt
 * from their dequantised values), so a merged segment scores every line
 * exactly as its parts did.
 */
export function mergeSegments(id: string, segments: readonly Segment[]): Segment {
  const lines: LogLine[] = [];
  const seen = new Set<string>();
  const templates: string[] = [];
  const sources: { segment: Segment; t: number }[] = [];
  const templateIndex = new Map<string, number>();
  const templateOf: number[] = [];
  const embedder = segments.find((s) => s.embedder)?.embedder;
  const dims = segments.find((s) => s.embedder)?.dims ?? 0;
  for (const segment of segments) {
    if (segment.embedder !== embedder) throw new Error('mergeSegments: segments of two indexes');
    segment.lines.forEach((line, doc) => {
      if (seen.has(line.id)) return;
      seen.add(line.id);
      lines.push(line);
      if (!embedder) return;
      const own = segment.templateOf[doc] as number;
      const template = segment.templates[own] as string;
      let t = templateIndex.get(template);
      if (t === undefined) {
        t = templates.length;
        templates.push(template);
        sources.push({ segment, t: own });
        templateIndex.set(template, t);
      }
      templateOf.push(t);
    });
  }
  if (!embedder) return buildSegment(id, lines);
  // Placeholder vectors: the quantised ones are copied in below.
  const placeholder = new Float32Array(dims);
  const merged = buildSegment(id, lines, {
    embedder,
    dims,
    templates,
    vectors: templates.map(() => placeholder),
    templateOf,
  });
  sources.forEach(({ segment, t: from }, t) => {
    merged.templateVectors.set(segment.templateVectors.subarray(from * dims, (from + 1) * dims), t * dims);
    merged.templateScale[t] = segment.templateScale[from] as number;
  });
  return merged;
}

// ------------------------------------------------------------ encoding

/**
 * Format 2: `LSG2`, a header length (u32 LE) and a JSON header, then two gzip
 * members: the index (typed arrays at 8-byte aligned offsets, so decoding
 * makes views rather than copies, and the texts), then the lines (each line's
 * JSON, back to back; `lineStart` in the index says where each begins). The
 * lines are inflated only when a search first needs one of them, and parsed
 * one at a time. Format 1 (one gzip of everything, lines as one JSON array)
 * is still read.
 */
const FORMAT_MAGIC = Buffer.from('LSG2', 'latin1');
/** zlib level: 4 inflates as fast as 6 and deflates about twice as fast, for a few percent more bytes. */
const GZIP_LEVEL = 4;

type Section = Uint8Array | Uint16Array | Uint32Array | Int8Array | Float32Array | Float64Array;

interface Header {
  version: number;
  id: string;
  embedder: string | null;
  dims: number;
  totalLength: number;
  labels: { endpoint: string[]; model: string[]; region: string[] };
  layout: Record<string, [number, number]>;
  /** Format 2: byte lengths of the gzipped index, of the inflated index, and of the inflated lines. */
  indexBytes?: number;
  indexRawBytes?: number;
  linesBytes?: number;
}

function segmentArrays(segment: Segment): Record<string, Section> {
  return {
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
}

/** The segment as bytes (format 2). */
export function encodeSegment(segment: Segment): Buffer {
  const lineParts: Buffer[] = [];
  const lineStart = new Uint32Array(segment.count + 1);
  let lineOffset = 0;
  for (let doc = 0; doc < segment.count; doc++) {
    const bytes = Buffer.from(JSON.stringify(segment.line(doc)), 'utf8');
    lineStart[doc] = lineOffset;
    lineParts.push(bytes);
    lineOffset += bytes.byteLength;
  }
  lineStart[segment.count] = lineOffset;
  // Line ids are ASCII (logs/schema.ts): character offsets are byte offsets.
  const lineIdStart = new Uint32Array(segment.count + 1);
  const ids: string[] = [];
  let idOffset = 0;
  for (let doc = 0; doc < segment.count; doc++) {
    const id = segment.lineId(doc);
    lineIdStart[doc] = idOffset;
    ids.push(id);
    idOffset += id.length;
  }
  lineIdStart[segment.count] = idOffset;
  const texts = {
    lineIds: ids.join(''),
    terms: [...segment.terms.keys()].join('\n'),
    idText: segment.idText,
    templates: JSON.stringify(segment.templates),
  };
  const parts: Buffer[] = [];
  const layout: Record<string, [number, number]> = {};
  let offset = 0;
  const add = (name: string, bytes: Buffer) => {
    const padding = (8 - (offset % 8)) % 8;
    if (padding > 0) parts.push(Buffer.alloc(padding));
    offset += padding;
    layout[name] = [offset, bytes.byteLength];
    parts.push(bytes);
    offset += bytes.byteLength;
  };
  for (const [name, array] of Object.entries({ ...segmentArrays(segment), lineStart, lineIdStart })) {
    add(name, Buffer.from(array.buffer, array.byteOffset, array.byteLength));
  }
  for (const [name, text] of Object.entries(texts)) add(name, Buffer.from(text, 'utf8'));
  const indexRaw = Buffer.concat(parts);
  const index = gzipSync(indexRaw, { level: GZIP_LEVEL });
  const lines = gzipSync(Buffer.concat(lineParts), { level: GZIP_LEVEL });
  const header = Buffer.from(
    JSON.stringify({
      version: 2,
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
      indexBytes: index.byteLength,
      indexRawBytes: indexRaw.byteLength,
      linesBytes: lineOffset,
    } satisfies Header),
    'utf8',
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.byteLength);
  return Buffer.concat([FORMAT_MAGIC, length, header, index, lines]);
}

/** A decoded segment and about how much memory it holds (the cache's measure). */
export interface DecodedSegment {
  segment: Segment;
  memoryBytes: number;
}

export function decodeSegment(bytes: Uint8Array): DecodedSegment {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!input.subarray(0, 4).equals(FORMAT_MAGIC)) return decodeFormat1(input);
  const headerLength = input.readUInt32LE(4);
  const header = JSON.parse(input.subarray(8, 8 + headerLength).toString('utf8')) as Header;
  if (header.version !== 2) throw new Error(`segment format ${header.version} is not supported`);
  const indexStart = 8 + headerLength;
  // One output chunk of the known size: no concatenation of 64 KiB pieces.
  const inflate = (bytes: Uint8Array, size: number | undefined) =>
    gunzipSync(bytes, { chunkSize: Math.max(64 * 1024, (size ?? 0) + 1) });
  let raw: Uint8Array = inflate(
    input.subarray(indexStart, indexStart + (header.indexBytes as number)),
    header.indexRawBytes,
  );
  // Views need 8-byte alignment of the buffer itself: copy once if zlib handed out an unaligned slice.
  if (raw.byteOffset % 8 !== 0) raw = new Uint8Array(raw);
  const view = <T>(
    name: string,
    Type: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  ) => {
    const [offset, length] = header.layout[name] as [number, number];
    return new Type(raw.buffer, raw.byteOffset + offset, length / Type.BYTES_PER_ELEMENT);
  };
  const text = (name: string) => {
    const [offset, length] = header.layout[name] as [number, number];
    return Buffer.from(raw.buffer, raw.byteOffset + offset, length).toString('utf8');
  };
  // Its own copy: the object's bytes are not kept.
  const linesGzip = Buffer.from(input.subarray(indexStart + (header.indexBytes as number)));
  const lineStart = view('lineStart', Uint32Array);
  let linesRaw: Buffer | undefined;
  const inflated = () => {
    linesRaw ??= inflate(linesGzip, header.linesBytes);
    return linesRaw;
  };
  const parse = (doc: number) =>
    JSON.parse(
      inflated().toString('utf8', lineStart[doc] as number, lineStart[doc + 1] as number),
    ) as LogLine;
  const count = lineStart.length - 1;
  const lineIds = text('lineIds');
  const lineIdStart = view('lineIdStart', Uint32Array);
  const segment = fromSections(header, count, view, text, {
    parse,
    parseAll: () => Array.from({ length: count }, (_, doc) => parse(doc)),
    id: (doc) => lineIds.slice(lineIdStart[doc] as number, lineIdStart[doc + 1] as number),
  });
  return {
    segment,
    memoryBytes:
      raw.byteLength +
      linesGzip.byteLength +
      (header.linesBytes ?? 0) +
      segment.idText.length +
      lineIds.length,
  };
}

function fromSections(
  header: Header,
  count: number,
  view: <T>(
    name: string,
    Type: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  ) => T,
  text: (name: string) => string,
  lines: LogLine[] | { parse(doc: number): LogLine; parseAll(): LogLine[]; id(doc: number): string },
): Segment {
  const termList = text('terms');
  const terms = new Map<string, number>();
  if (termList !== '') {
    termList.split('\n').forEach((term, t) => {
      terms.set(term, t);
    });
  }
  return withDerived(
    {
      id: header.id,
      embedder: header.embedder ?? undefined,
      dims: header.dims,
      count,
      ts: view('ts', Float64Array),
      level: view('level', Uint8Array),
      labels: {
        endpoint: { values: header.labels.endpoint, codes: view('endpoint', Uint32Array) },
        model: { values: header.labels.model, codes: view('model', Uint32Array) },
        region: { values: header.labels.region, codes: view('region', Uint32Array) },
      },
      terms,
      postingStart: view('postingStart', Uint32Array),
      postingDoc: view('postingDoc', Uint32Array),
      postingTf: view('postingTf', Uint16Array),
      docLength: view('docLength', Uint16Array),
      totalLength: header.totalLength,
      idText: text('idText'),
      idStart: view('idStart', Uint32Array),
      templates: JSON.parse(text('templates')) as string[],
      templateOf: view('templateOf', Uint32Array),
      templateVectors: view('templateVectors', Int8Array),
      templateScale: view('templateScale', Float32Array),
    },
    lines,
  );
}

/** Format 1: one gzip of a header and unaligned sections (copied), lines as one JSON array. */
function decodeFormat1(input: Buffer): DecodedSegment {
  const raw = gunzipSync(input);
  const headerLength = raw.readUInt32LE(0);
  const header = JSON.parse(raw.subarray(4, 4 + headerLength).toString('utf8')) as Header;
  if (header.version !== 1) throw new Error(`segment format ${header.version} is not supported`);
  const base = 4 + headerLength;
  const section = (name: string) => {
    const [offset, length] = header.layout[name] as [number, number];
    return raw.slice(base + offset, base + offset + length);
  };
  const view = <T>(
    name: string,
    Type: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  ) => {
    // A copy: typed arrays need an aligned buffer of their own.
    const bytes = new Uint8Array(section(name));
    return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
  };
  const text = (name: string) => section(name).toString('utf8');
  const lines = JSON.parse(text('lines')) as LogLine[];
  return { segment: fromSections(header, lines.length, view, text, lines), memoryBytes: raw.byteLength * 3 };
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

/** The first index of ascending `values` holding a value >= `value` (its length if none). */
export function lowerBound(values: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((values[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The docs of a time range: [start, end) (docs are sorted by time). */
export function docRange(segment: Segment, from: number, to: number): { start: number; end: number } {
  return { start: lowerBound(segment.ts, from), end: lowerBound(segment.ts, to + 1) };
}

/** How many of the ascending `docs` lie in [start, end). */
export function countInRange(docs: ArrayLike<number>, start: number, end: number): number {
  const first = (value: number) => {
    let low = 0;
    let high = docs.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((docs[mid] as number) < value) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  return first(end) - first(start);
}

function allowedCodes(column: LabelColumn, wanted: readonly string[] | undefined): Uint8Array | undefined {
  if (!wanted) return undefined;
  const allowed = new Uint8Array(column.values.length);
  column.values.forEach((value, code) => {
    if (code > 0 && wanted.includes(value)) allowed[code] = 1;
  });
  return allowed;
}

/**
 * The candidates of a segment: the docs of the time range, [start, end), and
 * when label or level filters are given, a mask of those passing them
 * (1 = candidate); without filters every doc of the range is one.
 */
export interface Candidates {
  start: number;
  end: number;
  mask: Uint8Array | undefined;
  count: number;
}

export function candidateMask(segment: Segment, filter: LineFilter): Candidates {
  const { start, end } = docRange(segment, filter.from, filter.to);
  const endpoint = allowedCodes(segment.labels.endpoint, filter.endpoint);
  const model = allowedCodes(segment.labels.model, filter.model);
  const region = allowedCodes(segment.labels.region, filter.region);
  const levels = filter.level?.map((l) => LOG_LEVELS.indexOf(l));
  if (!endpoint && !model && !region && !levels) return { start, end, mask: undefined, count: end - start };
  const mask = new Uint8Array(segment.count);
  // A label value the segment does not hold: nothing to walk.
  if ([endpoint, model, region].some((allowed) => allowed && !allowed.includes(1))) {
    return { start, end, mask, count: 0 };
  }
  let count = 0;
  for (let doc = start; doc < end; doc++) {
    if (endpoint && !endpoint[segment.labels.endpoint.codes[doc] as number]) continue;
    if (model && !model[segment.labels.model.codes[doc] as number]) continue;
    if (region && !region[segment.labels.region.codes[doc] as number]) continue;
    if (levels && !levels.includes(segment.level[doc] as number)) continue;
    mask[doc] = 1;
    count++;
  }
  return { start, end, mask, count };
}

/** The docs holding an id-like token exactly, ascending. */
export function idMatches(segment: Segment, token: string): number[] {
  const docs: number[] = [];
  const needle = ` ${token} `;
  let at = segment.idText.indexOf(needle);
  while (at !== -1) {
    // The doc whose id text holds position `at`: the last start <= at.
    let low = 0;
    let high = segment.count - 1;
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

/** Cosine similarity of the query vector to template `t` of the segment. */
export function templateSimilarity(segment: Segment, t: number, query: Float32Array): number {
  const dims = segment.dims;
  const offset = t * dims;
  let dot = 0;
  for (let i = 0; i < dims; i++)
    dot += (query[i] as number) * (segment.templateVectors[offset + i] as number);
  return dot * (segment.templateScale[t] as number);
}
