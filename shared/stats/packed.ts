/**
 * Aggregates packed as bytes, for the compact items of closed periods
 * (shared/store/compaction.ts): a group's counters, last result and latency
 * histogram in a few hundred bytes instead of one DynamoDB attribute per
 * counter and histogram bucket, which is what made reading hour rollups slow
 * (parsing ~130 attributes per item) and large.
 *
 * The format is persisted: FORMAT names it, and the order of the fields and of
 * ERROR_TYPES, STATUS_CLASSES and PHASES below must never change within a
 * format. Numbers are written exactly: a whole number from 0 to 2^52 as a
 * varint of twice its value (low bit 0), anything else as the byte 0x01 and
 * a float64, so packing then unpacking gives back the same aggregate.
 *
 * Format 2 is format 1 compressed (raw deflate after the format byte), written
 * when it is smaller: busy hours' histograms repeat small varints, and the
 * compact items are most of what a cold `/status` reads (DynamoDB charges
 * and transfers by item size). Both formats are read.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ERROR_TYPES, type ErrorType } from '../events/model.js';
import { PHASES, STATUS_CLASSES } from '../store/item-layout.js';
import { type Aggregate, emptyAggregate } from './aggregate.js';
import { BUCKET_OFFSET } from './histogram.js';

const FORMAT = 1;
const DEFLATED = 2;
const FLOAT_MARK = 0x01;
const MAX_SMALL = 2 ** 52;

/** One group of a compact item: its labels (what the view keeps of them) and its figures. */
export interface PackedGroup {
  endpoint: string;
  model: string;
  region: string;
  aggregate: Aggregate;
}

class Writer {
  private buffer = new Uint8Array(1024);
  private length = 0;
  private readonly view = () => new DataView(this.buffer.buffer);

  private room(bytes: number) {
    if (this.length + bytes <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  byte(value: number) {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  /** A varint of a whole number 0..2^53 (7 bits a byte, arithmetic rather than bit operations beyond 2^31). */
  varint(value: number) {
    let rest = value;
    while (rest >= 0x80) {
      this.byte((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.byte(rest);
  }

  number(value: number) {
    if (Number.isSafeInteger(value) && value >= 0 && value <= MAX_SMALL && !Object.is(value, -0)) {
      this.varint(value * 2);
      return;
    }
    this.byte(FLOAT_MARK);
    this.room(8);
    this.view().setFloat64(this.length, value);
    this.length += 8;
  }

  text(value: string) {
    const bytes = new TextEncoder().encode(value);
    this.varint(bytes.length);
    this.room(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  done(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

class Reader {
  private offset = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  byte(): number {
    if (this.offset >= this.bytes.length) throw new RangeError('packed aggregate: truncated');
    return this.bytes[this.offset++] as number;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError('packed aggregate: varint too long');
    }
  }

  number(): number {
    if (this.bytes[this.offset] === FLOAT_MARK) {
      this.offset++;
      if (this.offset + 8 > this.bytes.length) throw new RangeError('packed aggregate: truncated');
      const value = this.view.getFloat64(this.offset);
      this.offset += 8;
      return value;
    }
    return this.varint() / 2;
  }

  text(): string {
    const length = this.varint();
    if (this.offset + length > this.bytes.length) throw new RangeError('packed aggregate: truncated');
    const value = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }

  get finished() {
    return this.offset === this.bytes.length;
  }
}

function writeAggregate(w: Writer, a: Aggregate) {
  w.number(a.total);
  w.number(a.ok);
  w.number(a.simulated);
  w.number(a.latencySum);
  for (const type of ERROR_TYPES) w.number(a.errors[type]);
  for (const cls of STATUS_CLASSES) w.number(a.statusClasses[cls]);
  for (const key of ['input', 'output', 'cached', 'reasoning', 'events'] as const) w.number(a.tokens[key]);
  w.number(a.bytes);
  w.number(a.cost.usd);
  w.number(a.cost.pricedEvents);
  for (const phase of PHASES) {
    w.number(a.phases[phase].sum);
    w.number(a.phases[phase].n);
  }
  w.number(a.reused);
  if (a.last) {
    w.byte(a.last.ok ? 2 : 1);
    w.number(a.last.ts);
    w.number(a.last.status ?? 0);
    w.varint(a.last.errorType === null ? 0 : ERROR_TYPES.indexOf(a.last.errorType) + 1);
  } else {
    w.byte(0);
  }
  // Histogram: the occupied slots in ascending order, each as the gap from the previous one.
  const buckets = a.latency.buckets();
  w.varint(buckets.length);
  let previous = -1;
  for (const { index, count } of buckets) {
    const slot = index + BUCKET_OFFSET;
    w.varint(slot - previous - 1);
    w.number(count);
    previous = slot;
  }
}

function readAggregate(r: Reader): Aggregate {
  const a = emptyAggregate();
  a.total = r.number();
  a.ok = r.number();
  a.simulated = r.number();
  a.latencySum = r.number();
  for (const type of ERROR_TYPES) a.errors[type] = r.number();
  for (const cls of STATUS_CLASSES) a.statusClasses[cls] = r.number();
  for (const key of ['input', 'output', 'cached', 'reasoning', 'events'] as const) a.tokens[key] = r.number();
  a.bytes = r.number();
  a.cost.usd = r.number();
  a.cost.pricedEvents = r.number();
  for (const phase of PHASES) {
    a.phases[phase].sum = r.number();
    a.phases[phase].n = r.number();
  }
  a.reused = r.number();
  const last = r.byte();
  if (last !== 0) {
    const ts = r.number();
    const status = r.number();
    const error = r.varint();
    a.last = {
      ts,
      ok: last === 2,
      status: status > 0 ? status : null,
      errorType: error === 0 ? null : ((ERROR_TYPES[error - 1] as ErrorType | undefined) ?? null),
    };
  }
  const occupied = r.varint();
  let slot = -1;
  for (let i = 0; i < occupied; i++) {
    slot += r.varint() + 1;
    a.latency.addBucket(slot - BUCKET_OFFSET, r.number());
  }
  return a;
}

/** The bytes of a compact item's groups. */
export function packGroups(groups: readonly PackedGroup[]): Uint8Array {
  const w = new Writer();
  w.byte(FORMAT);
  w.varint(groups.length);
  for (const group of groups) {
    w.text(group.endpoint);
    w.text(group.model);
    w.text(group.region);
    writeAggregate(w, group.aggregate);
  }
  const plain = w.done();
  const deflated = deflateRawSync(plain.subarray(1));
  if (deflated.byteLength + 1 >= plain.byteLength) return plain;
  const packed = new Uint8Array(deflated.byteLength + 1);
  packed[0] = DEFLATED;
  packed.set(deflated, 1);
  return packed;
}

/** The groups of packed bytes; throws RangeError on bytes this code did not write. */
export function unpackGroups(bytes: Uint8Array): PackedGroup[] {
  return unpackSized(bytes).groups;
}

/** The groups, and the size of their plain (format 1) bytes: what a decoded period's memory follows. */
export function unpackSized(bytes: Uint8Array): { groups: PackedGroup[]; plainBytes: number } {
  if (bytes[0] === DEFLATED) {
    let body: Uint8Array;
    try {
      body = inflateRawSync(bytes.subarray(1));
    } catch {
      throw new RangeError('packed aggregate: deflated bytes do not inflate');
    }
    const plain = new Uint8Array(body.byteLength + 1);
    plain[0] = FORMAT;
    plain.set(body, 1);
    bytes = plain;
  }
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== FORMAT) throw new RangeError(`packed aggregate: unknown format ${format}`);
  const count = r.varint();
  const groups: PackedGroup[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = r.text();
    const model = r.text();
    const region = r.text();
    groups.push({ endpoint, model, region, aggregate: readAggregate(r) });
  }
  if (!r.finished) throw new RangeError('packed aggregate: trailing bytes');
  return { groups, plainBytes: bytes.byteLength };
}
