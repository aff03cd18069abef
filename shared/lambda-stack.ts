/**
 * The one middy stack of every function, HTTP and scheduled alike:
 * - the Powertools logger gets the Lambda context (function name, cold start,
 *   request id) and its keys are reset after each invocation;
 * - the secrets are loaded into config (shared/secrets.ts) before the handler
 *   runs, so handlers only ever call `getConfig()`.
 * HTTP functions add their layers around it (shared/http/middleware.ts);
 * scheduled functions add a failure log (`scheduledHandler`).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { logger } from './logger.js';
import { loadSecrets } from './secrets.js';

export interface LambdaStackOptions<TEvent, TResult> {
  /** Use Lambda response streaming (HTTP routes that say `streaming: true`). */
  streaming?: boolean;
  /**
   * Middlewares placed before the secrets: their `before` runs first and their
   * `after`/`onError` last, so they also shape the answer when loading secrets fails.
   */
  outer?: readonly MiddlewareObj<TEvent, TResult, Error, Context>[];
}

export function lambdaStack<TEvent, TResult>(options: LambdaStackOptions<TEvent, TResult> = {}) {
  const secrets: MiddlewareObj<TEvent, TResult, Error, Context> = {
    before: async () => {
      await loadSecrets();
    },
  };
  let stack = middy<TEvent, TResult, Error, Context>({
    streamifyResponse: options.streaming ?? false,
    // Lambda's own timeout applies; an early-timeout race would only add a timer per invocation.
    timeoutEarlyInMillis: 0,
  }).use(injectLambdaContext(logger, { resetKeys: true }));
  for (const middleware of options.outer ?? []) stack = stack.use(middleware);
  return stack.use(secrets);
}

/**
 * Wraps a scheduled (EventBridge) handler in the stack. A failure is logged
 * with the event's time and rethrown, so the invocation fails and shows in the
 * function's error metric and alarm.
 */
export function scheduledHandler<TResult>(
  handler: (event: ScheduledEvent, context: Context) => Promise<TResult>,
) {
  const failureLog: MiddlewareObj<ScheduledEvent, TResult, Error, Context> = {
    onError: (request) => {
      logger.error('scheduled invocation failed', {
        tick: request.event.time,
        error: request.error ?? undefined,
      });
    },
  };
  return lambdaStack<ScheduledEvent, TResult>({ outer: [failureLog] }).handler(handler);
}

/** True for an EventBridge scheduled event (functions that serve both routes and a schedule tell them apart). */
export function isScheduledEvent(event: unknown): event is ScheduledEvent {
  return typeof event === 'object' && event !== null && 'detail-type' in event;
}
