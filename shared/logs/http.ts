/**
 * The logs routes' query parsing and answers (README "Logs"), so the handlers
 * stay one call each.
 */

import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import type { HttpResponse } from '../http/middleware.js';
import { badRequest, HttpProblem, validate } from '../http/problem.js';
import {
  epochMs,
  labelList,
  oneOfList,
  parseRangeParams,
  pick,
  RANGE_PARAMS,
  rejectUnknown,
  resolveRange,
  wholeNumber,
} from '../http/query.js';
import { countPendingLines, getLogLine, readLogIndexState } from '../store/logs.js';
import * as z from '../zod.js';
import { describeEmbedder, embedderFor } from './embedder.js';
import { INDEX_DEFAULT_LIMIT, INDEX_MAX_LIMIT, IndexEmbedderMismatch, indexPendingLogs } from './indexer.js';
import { LOG_LEVELS, logIdTime } from './schema.js';
import { defaultSearchDeps, searchLogs } from './search.js';
import { logSimulatorStatus } from './simulator-status.js';

export const SEARCH_MAX_K = 100;
const MAX_QUERY_LENGTH = 500;
const SEARCH_PARAMS = ['query', ...RANGE_PARAMS, 'endpoint', 'model', 'region', 'level', 'k'] as const;

const searchSchema = z.object({
  query: z
    .string()
    .check(
      z.trim(),
      z.minLength(1, 'required: the words, ids or error codes to look for'),
      z.maxLength(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`),
    ),
  endpoint: z.optional(labelList),
  model: z.optional(labelList),
  region: z.optional(labelList),
  level: z.optional(oneOfList(LOG_LEVELS)),
  k: z.optional(
    wholeNumber(`a whole number from 1 to ${SEARCH_MAX_K}`, {
      min: 1,
      max: SEARCH_MAX_K,
      maxDigits: 3,
    }),
  ),
});

/** `GET /logs/search`. */
export async function answerLogSearch(query: Readonly<Record<string, string>>): Promise<HttpResponse> {
  rejectUnknown(query, SEARCH_PARAMS);
  const config = getConfig();
  const now = clock.now();
  const params = validate(searchSchema, {
    query: '',
    ...pick(query, ['query', 'endpoint', 'model', 'region', 'level', 'k']),
  });
  const range = resolveRange(
    parseRangeParams(query),
    { now, retentionDays: config.retentionDays },
    { defaultMinutes: 1440, defaultIsWindow: true, clamp: true },
  );
  const body = await searchLogs(
    {
      query: params.query,
      from: range.from,
      to: range.to,
      endpoint: params.endpoint,
      model: params.model,
      region: params.region,
      level: params.level,
      k: params.k ?? 20,
    },
    defaultSearchDeps(),
  );
  return { headers: { 'cache-control': 'no-store' }, body };
}

/** `GET /logs/{id}`: one line by its stable id. */
export async function answerLogLine(id: string | undefined, query: Readonly<Record<string, string>>) {
  rejectUnknown(query, []);
  const ts = id === undefined ? undefined : logIdTime(id);
  if (id === undefined || ts === undefined) {
    throw badRequest(
      'id',
      'not a log line id (13 digits of time, a dash, then 1 to 128 letters, digits or . _ : -)',
    );
  }
  const line = await getLogLine(getConfig().tableName, id, ts, clock.now());
  if (!line) throw new HttpProblem(404, 'Not Found', `No log line ${id} (never stored, or past retention)`);
  return { headers: { 'cache-control': 'no-store' }, body: line };
}

/** `GET /logs/status`: the simulator's switch, the indexer's backlog and the embedder. */
export async function answerLogStatus(query: Readonly<Record<string, string>>): Promise<HttpResponse> {
  rejectUnknown(query, []);
  const config = getConfig();
  const [simulator, pending, index] = await Promise.all([
    logSimulatorStatus(),
    countPendingLines(config.tableName, 100_000),
    readLogIndexState(config.tableName),
  ]);
  const embedder = describeEmbedder(embedderFor(config));
  return {
    headers: { 'cache-control': 'no-store' },
    body: {
      simulator,
      indexer: {
        pending: pending.count,
        pendingCapped: pending.capped,
        intervalMs: config.embIndexIntervalMs,
        index: index
          ? { key: index.indexKey, model: index.model, dims: index.dims, createdAt: index.createdAt }
          : null,
      },
      embedder,
    },
  };
}

const indexSchema = z.object({
  limit: z.optional(
    wholeNumber(`a whole number from 1 to ${INDEX_MAX_LIMIT}`, {
      min: 1,
      max: INDEX_MAX_LIMIT,
      maxDigits: 6,
    }),
  ),
  since: z.optional(epochMs),
});

/** `POST /ai/index/logs?limit=&since=`. */
export async function answerIndexLogs(query: Readonly<Record<string, string>>): Promise<HttpResponse> {
  rejectUnknown(query, ['limit', 'since']);
  const params = validate(indexSchema, pick(query, ['limit', 'since']));
  try {
    const body = await indexPendingLogs({
      limit: params.limit ?? INDEX_DEFAULT_LIMIT,
      ...(params.since === undefined ? {} : { since: params.since }),
    });
    return { headers: { 'cache-control': 'no-store' }, body };
  } catch (error) {
    if (error instanceof IndexEmbedderMismatch) {
      throw new HttpProblem(409, 'Conflict', error.message, { field: 'EMBEDDING_MODEL' });
    }
    throw error;
  }
}
