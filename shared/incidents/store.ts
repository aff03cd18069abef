/**
 * `incidents.json` in the artifacts bucket: read (a missing object is an
 * empty list; an invalid one is reported, not thrown), replaced whole, and
 * seeded from the project's example file when the local stack starts.
 */
import { readFile } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Client, s3Sdk } from '../s3.js';
import { ARTIFACT_PREFIXES } from '../schema.js';
import { type DeclaredIncident, declaredIncidentsSchema } from './schema.js';

export const INCIDENTS_KEY = ARTIFACT_PREFIXES.incidents;

export interface DeclaredRead {
  incidents: DeclaredIncident[];
  /** Set when the stored object exists but is not a valid incident list (then `incidents` is empty). */
  problem?: string;
}

/** What is wrong with a text as an incident list, or the list. */
export function parseIncidents(text: string): { incidents: DeclaredIncident[] } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const result = declaredIncidentsSchema.safeParse(json);
  if (result.success) return { incidents: result.data };
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  return { problem: `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}` };
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  // By name, not `instanceof NoSuchKey`: the SDK's classes are imported only when S3 is used.
  return e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** The declared incidents. Throws only when S3 itself fails (not for a missing or invalid object). */
export async function readDeclaredIncidents(bucket: string, s3?: S3Client): Promise<DeclaredRead> {
  const { GetObjectCommand } = await s3Sdk();
  let text: string;
  try {
    const object = await (s3 ?? (await s3Client())).send(
      new GetObjectCommand({ Bucket: bucket, Key: INCIDENTS_KEY }),
    );
    text = (await object.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    if (isMissing(error)) return { incidents: [] };
    throw error;
  }
  const parsed = parseIncidents(text);
  return 'problem' in parsed ? { incidents: [], problem: parsed.problem } : parsed;
}

/** Replaces the object with these (already validated) incidents. */
export async function writeDeclaredIncidents(
  bucket: string,
  incidents: readonly DeclaredIncident[],
  s3?: S3Client,
): Promise<void> {
  const { PutObjectCommand } = await s3Sdk();
  await (s3 ?? (await s3Client())).send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: INCIDENTS_KEY,
      Body: `${JSON.stringify(incidents, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}

async function exists(bucket: string, s3: S3Client): Promise<boolean> {
  const { HeadObjectCommand } = await s3Sdk();
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: INCIDENTS_KEY }));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export type SeedResult =
  | { seeded: true; count: number }
  | { seeded: false; reason: 'present' | 'no-file' }
  | { seeded: false; reason: 'invalid'; problem: string };

/**
 * Local start-up: uploads `file` as incidents.json when the bucket has none
 * and the file exists and is valid. An invalid file is not uploaded; `warn`
 * gets one line naming the problem.
 */
export async function seedDeclaredIncidents(options: {
  bucket: string;
  file: string;
  s3?: S3Client;
  warn?: (line: string) => void;
}): Promise<SeedResult> {
  const s3 = options.s3 ?? (await s3Client());
  const warn = options.warn ?? ((line: string) => console.warn(line));
  if (await exists(options.bucket, s3)) return { seeded: false, reason: 'present' };
  let text: string;
  try {
    text = await readFile(options.file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { seeded: false, reason: 'no-file' };
    throw error;
  }
  const parsed = parseIncidents(text);
  if ('problem' in parsed) {
    warn(`warning: ${options.file} not uploaded as ${INCIDENTS_KEY}: ${parsed.problem}`);
    return { seeded: false, reason: 'invalid', problem: parsed.problem };
  }
  await writeDeclaredIncidents(options.bucket, parsed.incidents, s3);
  return { seeded: true, count: parsed.incidents.length };
}
