/**
 * The Lambda runtime as our handlers see it, for running them off AWS: the
 * event shapes API Gateway (HTTP API, payload v2) and EventBridge send, a
 * context object, the `awslambda` global that response streaming needs, and
 * one way to invoke an HTTP handler and get its answer (streamed or not).
 * The local gateway, the scheduler and the test helpers all use this module.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, type Writable } from 'node:stream';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  ScheduledEvent,
} from 'aws-lambda';
import { clock } from '../../shared/clock.js';
import {
  matchRoute,
  type RequestMethod,
  type RouteMatch,
  type RouteSpec,
  routeKey,
  routeMethods,
} from '../../shared/routes.js';

export { matchRoute, type RouteMatch };

const LOCAL_ACCOUNT = '000000000000';
const LOCAL_REGION = 'local';

// ---------------------------------------------------------------- routes

/**
 * The methods the routes answer on this path, HEAD included for GET (for a
 * 405's `allow` and CORS preflights); empty when no route serves the path.
 */
export function allowedMethods(routes: readonly RouteSpec[], path: string): RequestMethod[] {
  const served = routes.filter((route) => matchRoute([route], route.method, path));
  return [...new Set(served.flatMap(routeMethods))];
}

// ---------------------------------------------------------------- events

export interface HttpEventInput {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw query string without `?`. */
  rawQueryString?: string;
  /** Header name → value (repeated headers already joined with `,`). */
  headers?: Record<string, string>;
  body?: Buffer | string;
  route?: RouteMatch;
  sourceIp?: string;
  requestId?: string;
  now?: number;
}

const TEXT_TYPES =
  /^(text\/|application\/(json|.*\+json|x-ndjson|xml|.*\+xml|x-www-form-urlencoded|javascript))/i;

/** An API Gateway HTTP API payload v2 event, as API Gateway would build it. */
export function httpEvent(input: HttpEventInput): APIGatewayProxyEventV2 {
  const now = input.now ?? clock.now();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
  const rawQueryString = input.rawQueryString ?? '';
  const query = new URLSearchParams(rawQueryString);
  // API Gateway joins repeated query parameters with commas. Built as JSON.parse builds the event Lambda
  // receives: every name, `__proto__` included, an own property.
  const queryStringParameters: Record<string, string> = Object.fromEntries(
    [...new Set(query.keys())].map((key) => [key, query.getAll(key).join(',')]),
  );
  const cookies = headers.cookie ? headers.cookie.split(';').map((c) => c.trim()) : undefined;
  delete headers.cookie;

  let body: string | undefined;
  let isBase64Encoded = false;
  if (input.body !== undefined && input.body.length > 0) {
    const buffer = Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body, 'utf8');
    const contentType = headers['content-type'] ?? '';
    const isText = TEXT_TYPES.test(contentType) && !headers['content-encoding'];
    isBase64Encoded = !isText;
    body = isText ? buffer.toString('utf8') : buffer.toString('base64');
  }
  // The method's own route key, as API Gateway names it: `HEAD /status` for the HEAD route the stack adds.
  const key = input.route ? routeKey({ method: input.method, path: input.route.route.path }) : '$default';
  const requestId = input.requestId ?? randomUUID();
  return {
    version: '2.0',
    routeKey: key,
    rawPath: input.path,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(queryStringParameters).length ? { queryStringParameters } : {}),
    ...(input.route && Object.keys(input.route.pathParameters).length
      ? { pathParameters: input.route.pathParameters }
      : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: input.method,
        path: input.path,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: key,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded,
  };
}

/** The event an EventBridge schedule delivers. */
export function scheduledEvent(options: {
  ruleName: string;
  time?: number;
  region?: string;
}): ScheduledEvent {
  const region = options.region ?? LOCAL_REGION;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: new Date(options.time ?? clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT}:rule/${options.ruleName}`],
    detail: {},
  };
}

/** A Lambda context for one invocation. */
export function lambdaContext(
  functionName: string,
  timeoutSec: number,
  requestId: string = randomUUID(),
): Context {
  // The process clock (shared/clock.ts), so a test that pins it gets exact event times and deadlines.
  const deadline = clock.now() + timeoutSec * 1000;
  const fail = () => {
    throw new Error('callback-style completion is not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
    done: fail,
    fail,
    succeed: fail,
  };
}

// ---------------------------------------------------------------- streaming

const STREAMING = Symbol.for('openai-status.streamifyResponse');

interface ResponseMetadata {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/**
 * The stream a streaming handler writes to. HttpResponseStream.from() attaches
 * the status and headers; like Lambda, they are sent when the first byte is
 * written (or the stream ends), which the `prelude` event announces.
 */
export class LocalResponseStream extends PassThrough {
  metadata?: ResponseMetadata;
  private announced = false;

  private announce(): void {
    if (this.announced) return;
    this.announced = true;
    this.emit('prelude');
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ) {
    this.announce();
    callback(null, chunk);
  }

  override _flush(callback: () => void) {
    this.announce();
    callback();
  }
}

/**
 * Installs the `awslambda` global the Lambda Node.js runtime provides for
 * response streaming (middy calls it when a handler is created), so streaming
 * handlers load and run unchanged off AWS. Idempotent; never replaces the real one.
 */
export function installAwsLambdaGlobal(): void {
  // `@aws/lambda-invoke-store` (under the SDK and Powertools) creates `globalThis.awslambda = {}` when
  // it loads, for its own InvokeStore: add the streaming members to that object rather than skip it.
  const g = globalThis as { awslambda?: Record<string, unknown> };
  g.awslambda ??= {};
  if (typeof g.awslambda.streamifyResponse === 'function') return;
  Object.assign(g.awslambda, {
    streamifyResponse<T extends (...args: never[]) => unknown>(handler: T): T {
      Object.defineProperty(handler, STREAMING, { value: true });
      return handler;
    },
    HttpResponseStream: {
      from(stream: LocalResponseStream, metadata: ResponseMetadata): LocalResponseStream {
        stream.metadata = metadata;
        return stream;
      },
    },
  });
}

function isStreamingHandler(handler: unknown): boolean {
  return typeof handler === 'function' && (handler as unknown as Record<symbol, unknown>)[STREAMING] === true;
}

// ---------------------------------------------------------------- invoking

export type AnyHandler = (...args: never[]) => unknown;

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  /** Buffered answers carry the body; streamed ones the stream (already flowing). */
  body: Buffer | PassThrough;
}

/**
 * Invokes an HTTP handler the way API Gateway (or a streaming Function URL)
 * would, and normalises its result the way they do.
 */
export async function invokeHttpHandler(
  handler: AnyHandler,
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<HttpAnswer> {
  if (isStreamingHandler(handler)) {
    const stream = new LocalResponseStream();
    const streamed = handler as unknown as (e: unknown, s: Writable, c: Context) => Promise<void>;
    const started = new Promise<void>((resolve) => stream.once('prelude', resolve));
    const failed = streamed(event, stream, context).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    // A handler that fails before its first byte fails the invocation; one that fails later cuts the stream.
    const firstError = await Promise.race([started.then(() => undefined), failed]);
    if (firstError) throw firstError;
    void failed.then((error) => error && stream.destroy(error));
    const metadata = stream.metadata ?? {};
    return {
      statusCode: metadata.statusCode ?? 200,
      headers: lowerCaseHeaders(metadata.headers),
      cookies: metadata.cookies ?? [],
      body: stream,
    };
  }
  const result = (await (handler as unknown as (e: unknown, c: Context) => Promise<unknown>)(
    event,
    context,
  )) as APIGatewayProxyStructuredResultV2 | string | undefined | null;
  // API Gateway v2: a result without statusCode is a 200 JSON body.
  if (
    result === undefined ||
    result === null ||
    typeof result !== 'object' ||
    result.statusCode === undefined
  ) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(body),
    };
  }
  const body = result.body ?? '';
  return {
    statusCode: result.statusCode ?? 200,
    headers: lowerCaseHeaders(result.headers as Record<string, string> | undefined),
    cookies: result.cookies ?? [],
    body: result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
  };
}

function lowerCaseHeaders(
  headers: Record<string, string | number | boolean> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = String(value);
  return out;
}
