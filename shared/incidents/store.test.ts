import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useFreshStore } from '../../test/helpers.js';
import { s3Client } from '../s3.js';
import { INCIDENTS_KEY, parseIncidents, readDeclaredIncidents, seedDeclaredIncidents } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'incidents-seed-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const example = [{ id: 'seeded', start: 1_000, end: 2_000, severity: 'medium', title: 'Seeded' }];

let bucket: string;
beforeAll(async () => {
  ({ bucket } = await useFreshStore());
});
beforeEach(async () => {
  await (await s3Client()).send(new DeleteObjectCommand({ Bucket: bucket, Key: INCIDENTS_KEY }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('seedDeclaredIncidents (local start-up)', () => {
  it('uploads the file when the bucket has no incidents.json, and never overwrites one', async () => {
    expect(await readDeclaredIncidents(bucket)).toEqual({ incidents: [] });
    const first = file('first.json', JSON.stringify(example));
    expect(await seedDeclaredIncidents({ bucket, file: first })).toEqual({ seeded: true, count: 1 });
    expect(await readDeclaredIncidents(bucket)).toEqual({ incidents: example });

    const other = file('other.json', JSON.stringify([{ ...example[0], id: 'other' }]));
    expect(await seedDeclaredIncidents({ bucket, file: other })).toEqual({
      seeded: false,
      reason: 'present',
    });
    expect(await readDeclaredIncidents(bucket)).toEqual({ incidents: example });
  });

  it('does not overwrite an existing object even when it is invalid', async () => {
    await (await s3Client()).send(
      new PutObjectCommand({ Bucket: bucket, Key: INCIDENTS_KEY, Body: 'garbage' }),
    );
    const seeded = await seedDeclaredIncidents({ bucket, file: file('ok.json', JSON.stringify(example)) });
    expect(seeded).toEqual({ seeded: false, reason: 'present' });
    expect((await readDeclaredIncidents(bucket)).problem).toMatch(/^not JSON/);
  });

  it('warns in one line and uploads nothing when the file is invalid', async () => {
    const lines: string[] = [];
    const bad = file('bad.json', JSON.stringify([{ ...example[0], severity: 'urgent' }]));
    const result = await seedDeclaredIncidents({ bucket, file: bad, warn: (line) => lines.push(line) });
    expect(result).toMatchObject({ seeded: false, reason: 'invalid' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('0.severity');
    expect(lines[0]).not.toContain('\n');
    expect(await readDeclaredIncidents(bucket)).toEqual({ incidents: [] });
  });

  it('does nothing without the file', async () => {
    const result = await seedDeclaredIncidents({ bucket, file: join(dir, 'missing.json') });
    expect(result).toEqual({ seeded: false, reason: 'no-file' });
  });

  it('ships a valid example in web/public/incidents.json', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../web/public/incidents.json'), 'utf8');
    const parsed = parseIncidents(text);
    expect(parsed).toMatchObject({ incidents: [{ severity: 'medium', end: expect.any(Number) }] });
  });
});
