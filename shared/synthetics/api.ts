/**
 * The synthetics API, one function per route: validation (400s naming the
 * field), the store calls, and the answers. Handlers stay thin: they pick the
 * function by route (functions/synthetics, functions/synthetic_run).
 */
import { randomBytes } from 'node:crypto';
import { clock } from '../clock.js';
import type { Config } from '../config.js';
import { HttpProblem, validate } from '../http/problem.js';
import { rejectUnknown } from '../http/query.js';
import { s3Client, s3Sdk } from '../s3.js';
import {
  createMonitor,
  deleteMonitor,
  listMonitors,
  MAX_MONITORS,
  MAX_RUNS_PAGE,
  type MonitorRecord,
  queryRuns,
  updateMonitor,
} from '../store/synthetics.js';
import * as z from '../zod.js';
import { draftMonitor, draftRequest } from './draft.js';
import { checkScreenshotLink, runView } from './links.js';
import { existing, MONITOR_ID, monitorId } from './lookup.js';
import { monitorSpec } from './spec.js';

const RUN_CURSOR = /^\d{13}#r_[0-9a-z]{1,30}$/;
const DEFAULT_RUNS_PAGE = 20;

const specBody = z.strictObject({ spec: monitorSpec });

export async function postDraft(body: unknown, config: Config) {
  return draftMonitor(validate(draftRequest, body, 'body'), config);
}

export async function postMonitor(body: unknown, config: Config) {
  const { spec } = validate(specBody, body, 'body');
  const count = (await listMonitors(config.tableName)).length;
  if (count >= MAX_MONITORS) {
    throw new HttpProblem(409, 'Conflict', `At most ${MAX_MONITORS} monitors: delete one first.`, {
      field: 'body',
    });
  }
  const now = clock.now();
  const monitor: MonitorRecord = {
    id: `m_${randomBytes(5).toString('hex')}`,
    spec,
    createdAt: now,
    updatedAt: now,
  };
  if (!(await createMonitor(config.tableName, monitor))) {
    throw new HttpProblem(409, 'Conflict', 'A monitor with this id exists; try again.');
  }
  return { statusCode: 201, body: { id: monitor.id, monitor } };
}

export async function listAll(config: Config) {
  const items = await listMonitors(config.tableName);
  return { items: items.sort((a, b) => a.createdAt - b.createdAt) };
}

export async function getOne(pathParameters: Readonly<Record<string, string>>, config: Config) {
  return existing(config, monitorId(pathParameters));
}

export async function putOne(
  pathParameters: Readonly<Record<string, string>>,
  body: unknown,
  config: Config,
) {
  const id = monitorId(pathParameters);
  const { spec } = validate(specBody, body, 'body');
  const monitor = await updateMonitor(config.tableName, id, spec, clock.now());
  if (!monitor) throw new HttpProblem(404, 'Not Found', `No monitor "${id}"`, { field: 'id' });
  return monitor;
}

export async function deleteOne(pathParameters: Readonly<Record<string, string>>, config: Config) {
  const id = monitorId(pathParameters);
  if (!(await deleteMonitor(config.tableName, id))) {
    throw new HttpProblem(404, 'Not Found', `No monitor "${id}"`, { field: 'id' });
  }
  return { id, deleted: true };
}

const runsQuery = z.strictObject({
  monitor: z.optional(z.string().check(z.regex(MONITOR_ID, 'expected a monitor id (m_…)'))),
  limit: z.optional(
    z.pipe(
      z.pipe(z.string().check(z.regex(/^\d{1,3}$/, 'expected a whole number')), z.transform(Number)),
      z.number().check(z.int(), z.gte(1), z.lte(MAX_RUNS_PAGE)),
    ),
  ),
  cursor: z.optional(
    z.pipe(
      z.string(),
      z.transform((c: string, ctx) => {
        const decoded = Buffer.from(c, 'base64url').toString('utf8');
        if (!RUN_CURSOR.test(decoded)) {
          return z.refuse(ctx, 'not a cursor from this API');
        }
        return decoded;
      }),
    ),
  ),
});

/** GET /synthetics/runs?monitor=&limit=&cursor=: newest first, over one monitor or all of them. */
export async function listRuns(query: Readonly<Record<string, string>>, config: Config) {
  const params = validate(runsQuery, query);
  const now = clock.now();
  const ids = params.monitor ? [params.monitor] : (await listMonitors(config.tableName)).map((m) => m.id);
  const page = await queryRuns(config.tableName, ids, {
    limit: params.limit ?? DEFAULT_RUNS_PAGE,
    now,
    ...(params.cursor ? { before: params.cursor } : {}),
  });
  return {
    items: page.items.map((run) => runView(run, config, now)),
    ...(page.next ? { cursor: Buffer.from(page.next).toString('base64url') } : {}),
  };
}

/** GET /synthetics/screenshots/{name}?exp=&sig= */
export async function getScreenshot(
  pathParameters: Readonly<Record<string, string>>,
  query: Readonly<Record<string, string>>,
  config: Config,
) {
  rejectUnknown(query, ['exp', 'sig']);
  const checked = checkScreenshotLink(pathParameters.name ?? '', query.exp, query.sig, config, clock.now());
  if ('problem' in checked)
    throw new HttpProblem(403, 'Forbidden', `screenshot link: ${checked.problem}`, { field: 'sig' });
  const { GetObjectCommand, NoSuchKey } = await s3Sdk();
  try {
    const object = await (await s3Client()).send(
      new GetObjectCommand({ Bucket: config.artifactsBucket, Key: checked.key }),
    );
    const bytes = Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    return {
      headers: { 'content-type': 'image/jpeg', 'cache-control': `private, max-age=${60}` },
      body: bytes,
    };
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
      throw new HttpProblem(404, 'Not Found', 'This screenshot is no longer stored.');
    }
    throw error;
  }
}
