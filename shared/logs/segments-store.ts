/**
 * Segment objects in the artifacts bucket, and the search function's cache
 * of decoded segments. Segments are immutable (compaction writes a new one
 * and drops the old ones from the manifest), so a cached segment never goes
 * stale: the cache is keyed by object key and bounded by the memory its
 * segments hold (their index arrays, and their lines still compressed or
 * inflated, but not parsed: segment.ts).
 */
import { s3Client, s3Sdk } from '../s3.js';
import { ARTIFACT_PREFIXES } from '../schema.js';
import { hourOf } from '../store/keys.js';
import { type DecodedSegment, decodeSegment, encodeSegment, type Segment } from './segment.js';

/** `logs/<index key>/<yyyy-mm-ddThh>/<segment id>.seg`; the index key's `@` and `.` are kept (S3 allows them). */
export const segmentObjectKey = (indexKey: string, hour: number, segmentId: string) =>
  `${ARTIFACT_PREFIXES.logSegments}${encodeURIComponent(indexKey)}/${hourOf(hour)}/${segmentId}.seg`;

export async function writeSegment(bucket: string, key: string, segment: Segment): Promise<number> {
  const body = encodeSegment(segment);
  const { PutObjectCommand } = await s3Sdk();
  await (await s3Client()).send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }),
  );
  return body.byteLength;
}

export async function deleteSegmentObjects(bucket: string, keys: readonly string[]): Promise<void> {
  const { DeleteObjectsCommand } = await s3Sdk();
  for (let i = 0; i < keys.length; i += 1000) {
    await (await s3Client()).send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
}

/**
 * Bytes of decoded segments the cache holds at most: 30 days of 1,000,000
 * lines hold about 700 MB, which fits the search function's 1,536 MB.
 */
export const SEGMENT_CACHE_BYTES = 900 * 2 ** 20;

const cache = new Map<string, DecodedSegment>();
let cachedBytes = 0;

/** A segment by object key: from the cache, else read, decoded and cached (least recently used goes first). */
export async function loadSegment(
  bucket: string,
  key: string,
): Promise<{ segment: Segment; cached: boolean; bytes: number }> {
  const name = `${bucket}/${key}`;
  const hit = cache.get(name);
  if (hit) {
    // Re-insert: Map order is the eviction order.
    cache.delete(name);
    cache.set(name, hit);
    return { segment: hit.segment, cached: true, bytes: 0 };
  }
  const { GetObjectCommand } = await s3Sdk();
  const object = await (await s3Client()).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await object.Body?.transformToByteArray();
  if (!bytes) throw new Error(`segment ${key}: empty object`);
  const decoded = decodeSegment(bytes);
  cache.set(name, decoded);
  cachedBytes += decoded.memoryBytes;
  for (const [other, old] of cache) {
    if (cachedBytes <= SEGMENT_CACHE_BYTES || other === name) break;
    cache.delete(other);
    cachedBytes -= old.memoryBytes;
  }
  return { segment: decoded.segment, cached: false, bytes: bytes.byteLength };
}

/** Empties the cache (tests, benchmarks measuring cold reads). */
export function clearSegmentCache(): void {
  cache.clear();
  cachedBytes = 0;
}
