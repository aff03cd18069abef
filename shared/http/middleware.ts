/**
 * The one HTTP middleware stack every API function uses (middy):
 * Powertools logging with the request id as correlation id, API-key auth for
 * routes the route table marks protected, JSON bodies with a size limit, CORS,
 * `x-request-id` on every answer, and every error as problem+json.
 *
 * A handler receives an HttpRequest and returns an HttpResponse whose body is
 * serialised here (objects as JSON), so handlers stay thin.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { MiddlewareObj } from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { getConfig } from '../config.js';
import { lambdaStack } from '../lambda-stack.js';
import { logger } from '../logger.js';
import { matchRoute, ROUTES, type RouteSpec, routeKey } from '../routes.js';
import { CORS_HEADERS } from './headers.js';
import { badRequest, HttpProblem } from './problem.js';

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface HttpRequest {
  readonly event: APIGatewayProxyEventV2;
  readonly context: Context;
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly pathParameters: Readonly<Record<string, string>>;
  /** The body as text (base64 bodies decoded), if any. */
  readonly rawBody: string | undefined;
  /** The body as bytes (base64 and Content-Encoding undone), for binary bodies such as OTLP protobuf. */
  readonly bodyBytes: Buffer | undefined;
  /** The parsed body when the request declared a JSON content type. */
  readonly body: unknown;
}

export interface HttpResponse {
  statusCode?: number;
  headers?: Record<string, string>;
  /** Objects become JSON; strings are sent as they are; a stream is piped (streaming routes only). */
  body?: unknown;
}

export type HttpHandlerFn = (request: HttpRequest) => Promise<HttpResponse>;
export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpHandlerOptions {
  /** Largest accepted body in bytes, measured after decompression (default 1 MiB); larger gets 413. */
  maxBodyBytes?: number;
  /**
   * Renders an error in the body format a protocol requires instead of
   * problem+json (OTLP/HTTP answers a protobuf request with a protobuf
   * Status); undefined keeps problem+json.
   */
  renderProblem?: (
    problem: HttpProblem,
    event: APIGatewayProxyEventV2,
  ) => { contentType: string; body: Buffer } | undefined;
  /** Use Lambda response streaming; the route must say `streaming: true`. */
  streaming?: boolean;
  /** The route table that decides auth (default: the product's; tests pass their own). */
  routes?: readonly RouteSpec[];
}

interface StackState {
  requestId: string;
  path: string;
}

const PROBLEM_JSON = 'application/problem+json';

/** Wraps a handler in the HTTP stack. */
export function httpHandler(handler: HttpHandlerFn, options: HttpHandlerOptions = {}): LambdaHttpHandler {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const routes = options.routes ?? ROUTES;
  const state = new WeakMap<object, StackState>();

  const responses: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
    before: (request) => {
      const event = request.event;
      const requestId = event.requestContext?.requestId || randomUUID();
      state.set(request, { requestId, path: event.rawPath ?? '/' });
      logger.setCorrelationId(requestId);
    },
    after: (request) => {
      const { requestId } = state.get(request) ?? { requestId: '' };
      request.response = finishResponse(request.response as HttpResponse, requestId);
      if (isHead(request.event)) request.response = headAnswer(request.response);
    },
    onError: (request) => {
      const { requestId, path } = state.get(request) ?? { requestId: randomUUID(), path: '/' };
      const error = request.error;
      let problem: HttpProblem;
      if (error instanceof HttpProblem) {
        problem = error;
        if (problem.status >= 500) logger.error('request failed', { error });
      } else {
        // Unknown errors never reach the caller: their text may hold internals or secrets.
        logger.error('unhandled error', { error: error ?? undefined });
        problem = new HttpProblem(
          500,
          'Internal Server Error',
          'An unexpected error occurred. Quote the request id when reporting it.',
        );
      }
      const rendered = options.renderProblem?.(problem, request.event);
      request.response = {
        statusCode: problem.status,
        headers: {
          ...problem.headers,
          'content-type': rendered?.contentType ?? PROBLEM_JSON,
          'x-request-id': requestId,
        },
        ...(rendered
          ? { body: rendered.body.toString('base64'), isBase64Encoded: true }
          : { body: JSON.stringify(problem.toJSON(path, requestId)) }),
      };
      if (isHead(request.event)) request.response = headAnswer(request.response);
    },
  };

  const auth: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
    before: (request) => checkApiKey(request.event, routes),
  };

  // The order matters: headers are normalised before anything reads them; CORS
  // headers are added after `responses` has shaped the answer (or the problem);
  // the secrets (loaded by the common stack) come before auth needs the key.
  const stack = lambdaStack<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({
    streaming: options.streaming ?? false,
    outer: [
      httpHeaderNormalizer(),
      httpCors({
        origin: CORS_HEADERS['access-control-allow-origin'],
        exposeHeaders: CORS_HEADERS['access-control-expose-headers'],
      }),
      responses,
    ],
  })
    .use(auth)
    .handler(async (event, context) => {
      const request = toHttpRequest(event, context, maxBodyBytes);
      // HEAD is answered as the GET it mirrors; the body is dropped on the way out (headAnswer).
      const asGet = isHead(event) ? { ...request, method: 'GET' } : request;
      return (await handler(asGet)) as APIGatewayProxyStructuredResultV2;
    });
  return stack as unknown as LambdaHttpHandler;
}

function toHttpRequest(event: APIGatewayProxyEventV2, context: Context, maxBodyBytes: number): HttpRequest {
  // Names are lower-cased already (httpHeaderNormalizer).
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name] = value;
  }
  // Null prototype: `__proto__`, `constructor`, … arrive as ordinary keys (refused by the routes as
  // unknown parameters) and can neither reach nor change Object.prototype.
  const query: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const pathParameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    if (value !== undefined) pathParameters[name] = value;
  }

  let bodyBytes: Buffer | undefined;
  let text: string | undefined;
  let body: unknown;
  if (event.body !== undefined && event.body !== null && event.body !== '') {
    const sent = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
    const bytes = decodeContent(sent, headers['content-encoding'], maxBodyBytes);
    if (bytes.byteLength > maxBodyBytes) {
      throw new HttpProblem(
        413,
        'Payload Too Large',
        `body: ${bytes.byteLength} bytes${bytes === sent ? '' : ' once decompressed'} is over the limit of ${maxBodyBytes} bytes`,
        { field: 'body' },
      );
    }
    bodyBytes = bytes;
    if (isJsonContentType(headers['content-type'])) {
      try {
        body = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        throw new HttpProblem(400, 'Bad Request', `body: not valid JSON (${(error as Error).message})`, {
          field: 'body',
        });
      }
    }
  }

  return {
    event,
    context,
    requestId: event.requestContext?.requestId ?? '',
    method: event.requestContext?.http?.method ?? 'GET',
    path: event.rawPath ?? '/',
    headers,
    query,
    pathParameters,
    // Text on demand, once: a binary body (protobuf) is never decoded as UTF-8 unless asked for.
    get rawBody() {
      text ??= bodyBytes?.toString('utf8');
      return text;
    },
    bodyBytes,
    body,
  };
}

/**
 * The JSON body of a request that must have one: parsed by the stack when it
 * declared a JSON content type, parsed here when it did not (a `curl -d` sends
 * form encoding). Missing or invalid JSON is a 400 naming `body`.
 */
export function requiredJsonBody(request: Pick<HttpRequest, 'body' | 'rawBody'>, expected: string): unknown {
  if (request.body !== undefined) return request.body;
  if (request.rawBody === undefined) throw badRequest('body', `required: ${expected}`);
  try {
    return JSON.parse(request.rawBody);
  } catch (error) {
    throw badRequest('body', `not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Undoes a gzip/deflate Content-Encoding (OTLP exporters compress). The limit
 * applies to the decompressed size, so a small bomb cannot blow up memory.
 */
function decodeContent(bytes: Buffer, encoding: string | undefined, maxBodyBytes: number): Buffer {
  const coding = encoding?.trim().toLowerCase();
  if (!coding || coding === 'identity') return bytes;
  if (coding !== 'gzip' && coding !== 'deflate') {
    throw new HttpProblem(
      415,
      'Unsupported Media Type',
      `content-encoding: ${coding} is not supported (use gzip)`,
      {
        field: 'content-encoding',
      },
    );
  }
  try {
    const options = { maxOutputLength: maxBodyBytes + 1 };
    const decoded = coding === 'gzip' ? gunzipSync(bytes, options) : inflateSync(bytes, options);
    return decoded;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new HttpProblem(
        413,
        'Payload Too Large',
        `body: over the limit of ${maxBodyBytes} bytes once decompressed`,
        {
          field: 'body',
        },
      );
    }
    throw new HttpProblem(400, 'Bad Request', `body: not valid ${coding} data`, { field: 'body' });
  }
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** Enforces the route table's auth for this route. Unknown routes are refused rather than let through. */
function checkApiKey(event: APIGatewayProxyEventV2, routes: readonly RouteSpec[]): void {
  // API Gateway names the route; a Function URL (streaming routes) sends `$default`, so match the path.
  const route =
    routes.find((r) => routeKey(r) === event.routeKey) ??
    matchRoute(routes, event.requestContext?.http?.method ?? '', event.rawPath ?? '')?.route;
  if (!route) {
    throw new HttpProblem(404, 'Not Found', `No route ${event.routeKey ?? ''}`.trim());
  }
  if (route.auth === 'none') return;

  const expected = getConfig().ingestApiKey;
  if (!expected) {
    throw new HttpProblem(
      403,
      'Forbidden',
      'This route needs an API key, and none is configured: set INGEST_API_KEY on the server to enable it.',
    );
  }
  const presented = presentedApiKey(event.headers ?? {});
  if (presented === undefined) {
    throw new HttpProblem(401, 'Unauthorized', 'Send the API key as x-api-key or Authorization: Bearer.', {
      field: 'x-api-key',
      headers: { 'www-authenticate': 'Bearer' },
    });
  }
  if (!sameSecret(presented, expected)) {
    throw new HttpProblem(401, 'Unauthorized', 'The API key is not valid.', {
      field: 'x-api-key',
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    });
  }
}

/** The key sent as `x-api-key` or as a bearer token (header names lower-cased by httpHeaderNormalizer). */
function presentedApiKey(headers: Record<string, string | undefined>): string | undefined {
  const apiKey = headers['x-api-key']?.trim();
  if (apiKey) return apiKey;
  const bearer = headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  return bearer || undefined;
}

/** Constant-time comparison: hashing first makes the lengths equal, so length is not leaked either. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Serialises a handler's HttpResponse into the API Gateway v2 result (or the streaming prelude). */
function finishResponse(
  response: HttpResponse | undefined,
  requestId: string,
): APIGatewayProxyStructuredResultV2 {
  const statusCode = response?.statusCode ?? 200;
  const headers: Record<string, string> = {
    ...(response?.headers ?? {}),
    'x-request-id': requestId,
  };
  const body = response?.body;
  if (body === undefined || body === null) {
    return { statusCode, headers, body: '' };
  }
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    return { statusCode, headers, body };
  }
  if (Buffer.isBuffer(body)) {
    headers['content-type'] ??= 'application/octet-stream';
    return { statusCode, headers, body: body.toString('base64'), isBase64Encoded: true };
  }
  if (isStream(body)) {
    // Streaming handlers: middy pipes the stream after writing this prelude.
    return { statusCode, headers, body: body as unknown as string };
  }
  headers['content-type'] ??= 'application/json';
  return { statusCode, headers, body: JSON.stringify(body) };
}

function isHead(event: APIGatewayProxyEventV2 | undefined): boolean {
  return event?.requestContext?.http?.method?.toUpperCase() === 'HEAD';
}

/**
 * The answer to HEAD: the GET's status and headers with its length, and no
 * body (RFC 9110 §9.3.2). A streamed body is not read (its length is unknown,
 * as it is for the GET).
 */
function headAnswer(result: APIGatewayProxyStructuredResultV2): APIGatewayProxyStructuredResultV2 {
  const body = result.body as unknown;
  if (isStream(body)) {
    if ('destroy' in body) body.destroy();
    else void body.cancel();
    return { ...result, body: '' };
  }
  const text = typeof body === 'string' ? body : '';
  const length = result.isBase64Encoded ? Buffer.from(text, 'base64').byteLength : Buffer.byteLength(text);
  return {
    ...result,
    headers: { ...result.headers, 'content-length': String(length) },
    body: '',
    isBase64Encoded: false,
  };
}

function isStream(value: unknown): value is Readable | ReadableStream {
  return (
    typeof value === 'object' &&
    value !== null &&
    ('_readableState' in value || (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream))
  );
}
