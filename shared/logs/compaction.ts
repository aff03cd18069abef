/**
 * Compaction of the log index: the segments of an hour past
 * MAX_SEGMENTS_PER_HOUR, and the segments of a closed day, merged into one
 * segment, so 30 days of index are about 30 objects rather than 720.
 *
 * A swap without transactions (dynalite has none): the merged segment's
 * object is written first, then its manifest item, which lists the segments
 * it `replaces`. Readers skip replaced entries (liveSegmentEntries), and one
 * strongly consistent Query returns both the new item and the old ones (the
 * new one is keyed by the first hour it covers, at or before the old ones),
 * so a search sees either the old segments or the new one, never both and
 * never neither. The replaced items and objects are deleted only
 * REPLACED_KEPT_MS later, by a later run, when no search can still be
 * reading them; a crash at any step leaves an index that searches the same.
 *
 * Idempotent: a day with one live segment is left alone, and a run that
 * merged some of a day's segments merges the same set again only if new
 * lines arrived (a late line's hour gets a segment of its own, merged into
 * the day by the next run).
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { DAY_MS, floorTo, HOUR_MS, MINUTE_MS } from '../store/keys.js';
import {
  deleteSegmentEntries,
  liveSegmentEntries,
  putSegmentEntry,
  readSegmentEntries,
  type SegmentEntry,
} from '../store/logs.js';
import { mergeSegments, type Segment } from './segment.js';
import { deleteSegmentObjects, loadSegment, segmentObjectKey, writeSegment } from './segments-store.js';

/** Segments an hour may have before the indexer merges them into one. */
export const MAX_SEGMENTS_PER_HOUR = 4;
/** A day is closed (and compacted) this long after it ends: lines a little late still land in their hour first. */
export const DAY_CLOSED_AFTER_MS = HOUR_MS;
/** Replaced entries and objects stay this long after their replacement is written: longer than any search runs. */
export const REPLACED_KEPT_MS = 15 * MINUTE_MS;
/** Lines one compacted segment holds at most: a busier day is compacted into several (memory of a merge). */
export const MAX_COMPACTED_LINES = 400_000;
/** Days one run compacts at most (the rest wait for the next run). */
export const MAX_DAYS_PER_RUN = 2;
/** Manifest items one run reads: 31 days of four segments an hour, and room to spare. */
const MANIFEST_READ_LIMIT = 5000;

export const newSegmentId = (now: number) => `${now.toString(36)}-${randomBytes(4).toString('hex')}`;

/** Writes a segment's object, then its manifest item (the object first: an item never points at nothing). */
export async function writeIndexedSegment(
  config: Config,
  indexKey: string,
  hour: number,
  segment: Segment,
  now: number,
  replaces?: readonly string[],
): Promise<SegmentEntry> {
  const objectKey = segmentObjectKey(indexKey, hour, segment.id);
  const bytes = await writeSegment(config.artifactsBucket, objectKey, segment);
  const entry: SegmentEntry = {
    indexKey,
    hour,
    segmentId: segment.id,
    objectKey,
    lines: segment.lines.length,
    bytes,
    minTs: segment.ts[0] as number,
    maxTs: segment.ts[segment.ts.length - 1] as number,
    createdAt: now,
    ...(replaces && replaces.length > 0 ? { replaces: [...replaces] } : {}),
  };
  await putSegmentEntry(config.tableName, entry, config.retentionDays);
  return entry;
}

/**
 * Merges live entries (oldest first) into one segment keyed by their first
 * hour. It replaces them and, transitively, what they replaced: whatever
 * order the replaced items are deleted in, none becomes live again.
 */
async function mergeEntries(
  config: Config,
  indexKey: string,
  entries: readonly SegmentEntry[],
  now: number,
): Promise<SegmentEntry> {
  const segments = await Promise.all(
    entries.map(async (e) => (await loadSegment(config.artifactsBucket, e.objectKey)).segment),
  );
  const merged = mergeSegments(newSegmentId(now), segments);
  const replaces = [...new Set(entries.flatMap((e) => [e.segmentId, ...(e.replaces ?? [])]))];
  const hour = Math.min(...entries.map((e) => e.hour));
  return writeIndexedSegment(config, indexKey, hour, merged, now, replaces);
}

/** Merges the live segments of an hour into one when it has more than MAX_SEGMENTS_PER_HOUR. */
export async function compactHour(
  config: Config,
  indexKey: string,
  hour: number,
  now: number,
): Promise<boolean> {
  const { entries } = await readSegmentEntries(
    config.tableName,
    indexKey,
    { from: hour, to: hour + HOUR_MS - 1, now },
    MANIFEST_READ_LIMIT,
  );
  const own = liveSegmentEntries(entries).filter((e) => e.hour === hour);
  if (own.length <= MAX_SEGMENTS_PER_HOUR) return false;
  await mergeEntries(config, indexKey, own, now);
  return true;
}

/** Consecutive entries (by hour) in groups of at most `maxLines` lines (an entry larger than that alone). */
export function compactionGroups(entries: readonly SegmentEntry[], maxLines: number): SegmentEntry[][] {
  const sorted = [...entries].sort((a, b) => a.hour - b.hour || a.minTs - b.minTs);
  const groups: SegmentEntry[][] = [];
  let current: SegmentEntry[] = [];
  let lines = 0;
  for (const entry of sorted) {
    if (current.length > 0 && lines + entry.lines > maxLines) {
      groups.push(current);
      current = [];
      lines = 0;
    }
    current.push(entry);
    lines += entry.lines;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Deletes the entries replaced at least REPLACED_KEPT_MS ago: their manifest items, then their objects. */
async function dropReplaced(config: Config, entries: readonly SegmentEntry[], now: number): Promise<number> {
  const byId = new Map(entries.map((e) => [e.segmentId, e]));
  const doomed = new Map<string, SegmentEntry>();
  for (const entry of entries) {
    if (!entry.replaces || entry.createdAt + REPLACED_KEPT_MS > now) continue;
    for (const id of entry.replaces) {
      const old = byId.get(id);
      if (old) doomed.set(id, old);
    }
  }
  if (doomed.size === 0) return 0;
  const list = [...doomed.values()];
  await deleteSegmentEntries(config.tableName, list);
  await deleteSegmentObjects(
    config.artifactsBucket,
    list.map((e) => e.objectKey),
  );
  return list.length;
}

export interface CompactionAnswer {
  /** Closed days whose segments were merged by this run. */
  days: number;
  /** Compacted segments written. */
  written: number;
  /** Replaced segments deleted (manifest items and objects). */
  dropped: number;
}

/** Compacts up to MAX_DAYS_PER_RUN closed days (oldest first) and deletes what earlier runs replaced. */
export async function compactClosedDays(
  config: Config,
  indexKey: string,
  now: number,
): Promise<CompactionAnswer> {
  const { entries } = await readSegmentEntries(
    config.tableName,
    indexKey,
    { from: now - (config.retentionDays + 1) * DAY_MS, to: now, now },
    MANIFEST_READ_LIMIT,
  );
  const dropped = await dropReplaced(config, entries, now);
  const byDay = new Map<number, SegmentEntry[]>();
  for (const entry of liveSegmentEntries(entries)) {
    const day = floorTo(entry.hour, DAY_MS);
    const list = byDay.get(day) ?? [];
    if (list.length === 0) byDay.set(day, list);
    list.push(entry);
  }
  let days = 0;
  let written = 0;
  for (const day of [...byDay.keys()].sort((a, b) => a - b)) {
    if (days >= MAX_DAYS_PER_RUN) break;
    if (day + DAY_MS + DAY_CLOSED_AFTER_MS > now) continue;
    const groups = compactionGroups(byDay.get(day) as SegmentEntry[], MAX_COMPACTED_LINES).filter(
      (g) => g.length > 1,
    );
    if (groups.length === 0) continue;
    for (const group of groups) {
      await mergeEntries(config, indexKey, group, now);
      written++;
    }
    days++;
  }
  return { days, written, dropped };
}
