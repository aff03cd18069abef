/**
 * Request-level idempotency for ingestion: a request retried with the same
 * `Idempotency-Key` header, or with exactly the same body, within 24 hours is
 * answered with the first answer and changes nothing.
 *
 * One item per key (shared/store/idempotency.ts): a conditional put claims it
 * ("pending"), the answer is saved on it when done. A concurrent duplicate gets
 * 409; a claim older than the function timeout is treated as abandoned (its
 * Lambda died) and taken over.
 */
import { createHash } from 'node:crypto';
import { HttpProblem } from '../http/problem.js';
import { logger } from '../logger.js';
import { claimIdempotency, completeIdempotency, releaseIdempotency } from '../store/idempotency.js';

const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A pending claim older than this belongs to an invocation that died. */
const ABANDONED_AFTER_MS = 2 * 60_000;

export interface StoredAnswer {
  statusCode: number;
  body: unknown;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface IdempotencyScope {
  tableName: string;
  /** The route, so the same key on two routes does not collide. */
  route: string;
  /** The client's Idempotency-Key header, if any. */
  key: string | undefined;
  body: string;
  now: number;
}

/**
 * Runs `work` once per (route, key or body). Returns its answer, or the saved
 * answer of the first run with `replayed: true`.
 */
export async function once(
  scope: IdempotencyScope,
  work: () => Promise<StoredAnswer>,
): Promise<StoredAnswer & { replayed: boolean }> {
  if (scope.key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(scope.key)) {
    throw new HttpProblem(400, 'Bad Request', 'Idempotency-Key: must be 1 to 255 visible ASCII characters', {
      field: 'Idempotency-Key',
    });
  }
  const bodyHash = sha256(scope.body);
  const id = sha256(`${scope.route}\n${scope.key === undefined ? `body:${bodyHash}` : `key:${scope.key}`}`);

  const held = await claimIdempotency(scope.tableName, id, {
    bodyHash,
    now: scope.now,
    expiresAt: scope.now + IDEMPOTENCY_TTL_MS,
    abandonedBefore: scope.now - ABANDONED_AFTER_MS,
  });
  if (held) {
    if (held.bodyHash !== bodyHash) {
      throw new HttpProblem(
        422,
        'Unprocessable Content',
        'Idempotency-Key: was already used with a different body; use a new key for a new request',
        { field: 'Idempotency-Key' },
      );
    }
    if (held.state !== 'done') {
      throw new HttpProblem(409, 'Conflict', 'The same request is being processed; retry in a few seconds.', {
        headers: { 'retry-after': '2' },
      });
    }
    return { ...(JSON.parse(held.answer as string) as StoredAnswer), replayed: true };
  }

  let answer: StoredAnswer;
  try {
    answer = await work();
  } catch (error) {
    // Release the claim so that a retry can do the work.
    await releaseIdempotency(scope.tableName, id);
    throw error;
  }
  try {
    await completeIdempotency(scope.tableName, id, JSON.stringify(answer));
  } catch (error) {
    // The work is done: answer it. Without the saved answer a retry runs the
    // work again, which finds every item stored and counts nothing twice.
    logger.warn('idempotent answer not saved', { error: error as Error });
    await releaseIdempotency(scope.tableName, id);
  }
  return { ...answer, replayed: false };
}
