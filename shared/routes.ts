/**
 * The route table and the function table: the single source of truth for what
 * the API serves and which functions exist. The CDK stack makes one Lambda per
 * function and one HTTP API route per route; the local gateway and scheduler
 * read the same tables.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** `none`: public. `ingest`: needs INGEST_API_KEY as `x-api-key` or `Authorization: Bearer`. */
export type RouteAuth = 'none' | 'ingest';

export interface FunctionSpec {
  /** Folder under `functions/` holding `handler.ts`. */
  readonly name: string;
  readonly description: string;
  /** Lambda timeout. */
  readonly timeoutSec: number;
  readonly memoryMb: number;
  /** Set for functions fired by a schedule; the value names the config field giving the rate in seconds. */
  readonly schedule?: ScheduleRate;
  /**
   * What the function touches in the cloud; the stack grants exactly this (least privilege).
   * A function serving a route with `auth: 'ingest'` also gets the secret, as it needs INGEST_API_KEY.
   */
  readonly access?: FunctionAccess;
  /**
   * Starts Chromium (synthetic monitors): the stack runs it on x86_64, the
   * one architecture @sparticuz/chromium ships for, and ships that package
   * unbundled so its compressed browser files come along.
   */
  readonly browser?: boolean;
}

export interface FunctionAccess {
  /** `read`: DescribeTable, GetItem, Query…; `readWrite`: also PutItem, UpdateItem, DeleteItem, BatchWriteItem. */
  readonly table?: 'read' | 'readWrite';
  /** `read`: HeadBucket, GetObject, List; `readWrite`: also PutObject, DeleteObject. */
  readonly artifacts?: 'read' | 'readWrite';
  /** Reads the secret variables (OPENAI_API_KEY, INGEST_API_KEY) from Secrets Manager (shared/secrets.ts). */
  readonly secrets?: boolean;
  /** Signs and checks `/traces` cursors: reads CURSOR_SECRET, which the stack generates in a secret of its own. */
  readonly cursorSecret?: boolean;
  /**
   * The alert channels' secrets, one Secrets Manager secret the stack creates
   * (shared/alerts/channel-secrets.ts): `read` (GetSecretValue) to deliver,
   * `readWrite` (also PutSecretValue) to store them.
   */
  readonly channelSecrets?: 'read' | 'readWrite';
}

export type ScheduleRate =
  | 'probeIntervalSec'
  | 'logSimIntervalMs'
  | 'embIndexIntervalMs'
  | 'alertEvalIntervalSec';

/** A schedule's interval in ms from its config value: `…Sec` fields hold seconds, `…Ms` fields milliseconds. */
export const scheduleIntervalMs = (rate: ScheduleRate, value: number) =>
  rate.endsWith('Ms') ? value : value * 1000;

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `/synthetics/{id}/run`. */
  readonly path: string;
  readonly function: string;
  readonly auth: RouteAuth;
  /** Streams its response (Lambda response streaming). */
  readonly streaming: boolean;
}

export const FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: 'health',
    description: 'Versions and store state',
    timeoutSec: 10,
    memoryMb: 256,
    access: { table: 'read', artifacts: 'read' },
  },
  {
    name: 'probe',
    description: 'Probes the OpenAI API endpoints and records the results',
    // Room for a full `all` tick: waves of PROBE_CONCURRENCY probes, each at most HTTP_TIMEOUT_MS.
    timeoutSec: 60,
    memoryMb: 512,
    schedule: 'probeIntervalSec',
    access: { table: 'readWrite', secrets: true },
  },
  {
    name: 'status',
    description: 'Success rate, latency percentiles and SLO per endpoint',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read' },
  },
  {
    name: 'timeseries',
    description: 'Bucketed volumes, success rate, percentiles, tokens and cost',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read' },
  },
  {
    name: 'latency_histogram',
    description: 'Latency distribution with percentiles',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read' },
  },
  { name: 'config', description: 'Non-sensitive runtime settings', timeoutSec: 10, memoryMb: 256 },
  {
    name: 'traces',
    description: 'Raw trace events newest first, filtered, paged; CSV and NDJSON export',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read', cursorSecret: true },
  },
  {
    name: 'incidents',
    description: 'Declared and detected incidents; replacing the declared ones (incidents.json)',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read', artifacts: 'readWrite' },
  },
  {
    name: 'ingest',
    description: 'Trace ingestion: JSON, NDJSON and OTLP/HTTP JSON',
    timeoutSec: 29,
    memoryMb: 1024,
    access: { table: 'readWrite', secrets: true },
  },
  {
    name: 'ai',
    description: 'AI metrics and summary of a range, and the chat over the telemetry',
    timeoutSec: 29,
    memoryMb: 1024,
    // Artifacts: the log search segments the chat's evidence comes from.
    access: { table: 'readWrite', artifacts: 'read', secrets: true },
  },
  {
    name: 'ai_stream',
    description: 'The chat over the telemetry, streamed as NDJSON (Function URL behind CloudFront)',
    timeoutSec: 60,
    memoryMb: 1024,
    access: { table: 'readWrite', artifacts: 'read', secrets: true },
  },
  {
    name: 'logs',
    description: 'Log ingestion, and the log simulator (its switch and its ticks)',
    timeoutSec: 29,
    memoryMb: 1024,
    schedule: 'logSimIntervalMs',
    access: { table: 'readWrite', secrets: true },
  },
  {
    name: 'logs_search',
    description: 'Hybrid log search (BM25 and vectors, fused by RRF), one line by id, logs status',
    timeoutSec: 29,
    // Decoded segments are cached across invocations (shared/logs/segments-store.ts).
    memoryMb: 1536,
    // Secrets: the query is embedded with OPENAI_API_KEY when one is set.
    access: { table: 'read', artifacts: 'read', secrets: true },
  },
  {
    name: 'logs_index',
    description: 'Embeds pending log lines into search segments, on demand and on a schedule',
    // Under the write lease (2 min, store/item-layout.ts), as every function that writes to the table.
    timeoutSec: 110,
    memoryMb: 1536,
    schedule: 'embIndexIntervalMs',
    access: { table: 'readWrite', artifacts: 'readWrite', secrets: true },
  },
  {
    name: 'synthetics',
    description:
      'Synthetic monitors: drafts, create, list, read, replace, delete; runs and their screenshots',
    timeoutSec: 29,
    memoryMb: 512,
    // Drafting calls OpenAI (its key is a secret); screenshot links are signed with the cursor secret.
    access: { table: 'readWrite', artifacts: 'read', secrets: true, cursorSecret: true },
  },
  {
    name: 'synthetic_run',
    description: 'Runs one synthetic monitor now, in a browser (HTTP fallback)',
    // API Gateway answers 503 after 29 s; a longer run still finishes and is listed in the runs.
    timeoutSec: 90,
    memoryMb: 2048,
    browser: true,
    access: { table: 'readWrite', artifacts: 'readWrite', secrets: true, cursorSecret: true },
  },
  {
    name: 'synthetics_dispatch',
    description: 'Runs the synthetic monitors whose schedule slot has come',
    // Under the write lease (2 min, store/item-layout.ts); due monitors it has no time for wait for the next tick.
    timeoutSec: 110,
    memoryMb: 2048,
    schedule: 'probeIntervalSec',
    browser: true,
    access: { table: 'readWrite', artifacts: 'readWrite', secrets: true },
  },
  {
    name: 'alerts',
    description: 'Alert rules, channels, maintenance windows and the alerts overview',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'readWrite', channelSecrets: 'readWrite' },
  },
  {
    name: 'alerts_eval',
    description: 'Evaluates the alert rules from the rollups and sends the notifications',
    // Room for a transition's deliveries (each at most 3 attempts of 5 s and 6 s of backoff, channels in parallel);
    // under the write lease, as every table writer's timeout (shared/store/events.test.ts).
    timeoutSec: 60,
    memoryMb: 512,
    schedule: 'alertEvalIntervalSec',
    access: { table: 'readWrite', channelSecrets: 'read' },
  },
  {
    name: 'badge',
    description: 'Status and uptime badges (SVG) per endpoint',
    timeoutSec: 10,
    memoryMb: 256,
    access: { table: 'read' },
  },
  {
    name: 'metrics',
    description: 'Prometheus text exposition of the rollups',
    timeoutSec: 29,
    memoryMb: 512,
    access: { table: 'read' },
  },
];

export const ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: '/ingest/trace', function: 'ingest', auth: 'ingest', streaming: false },
  { method: 'POST', path: '/v1/traces', function: 'ingest', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/health', function: 'health', auth: 'none', streaming: false },
  { method: 'GET', path: '/status', function: 'status', auth: 'none', streaming: false },
  { method: 'GET', path: '/timeseries', function: 'timeseries', auth: 'none', streaming: false },
  {
    method: 'GET',
    path: '/latency_histogram',
    function: 'latency_histogram',
    auth: 'none',
    streaming: false,
  },
  { method: 'GET', path: '/config', function: 'config', auth: 'none', streaming: false },
  { method: 'GET', path: '/traces', function: 'traces', auth: 'none', streaming: false },
  { method: 'GET', path: '/incidents', function: 'incidents', auth: 'none', streaming: false },
  { method: 'PUT', path: '/incidents', function: 'incidents', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/ai/metrics', function: 'ai', auth: 'none', streaming: false },
  { method: 'GET', path: '/ai/summary', function: 'ai', auth: 'none', streaming: false },
  { method: 'POST', path: '/ai/chat', function: 'ai', auth: 'none', streaming: false },
  { method: 'POST', path: '/ai/chat/stream', function: 'ai_stream', auth: 'none', streaming: true },
  { method: 'POST', path: '/logs/ingest', function: 'logs', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/logs/sim/start', function: 'logs', auth: 'ingest', streaming: false },
  { method: 'POST', path: '/logs/sim/start', function: 'logs', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/logs/sim/stop', function: 'logs', auth: 'ingest', streaming: false },
  { method: 'POST', path: '/logs/sim/stop', function: 'logs', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/logs/search', function: 'logs_search', auth: 'none', streaming: false },
  { method: 'GET', path: '/logs/status', function: 'logs_search', auth: 'none', streaming: false },
  // After the literal /logs/… paths: matchRoute takes the first match (API Gateway prefers literals too).
  { method: 'GET', path: '/logs/{id}', function: 'logs_search', auth: 'none', streaming: false },
  { method: 'POST', path: '/ai/index/logs', function: 'logs_index', auth: 'ingest', streaming: false },
  // Synthetic monitors: fixed paths before `{id}`, as the local matcher takes the first match.
  { method: 'POST', path: '/synthetics/draft', function: 'synthetics', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/synthetics/runs', function: 'synthetics', auth: 'none', streaming: false },
  {
    method: 'GET',
    path: '/synthetics/screenshots/{name}',
    function: 'synthetics',
    auth: 'none',
    streaming: false,
  },
  { method: 'GET', path: '/synthetics', function: 'synthetics', auth: 'none', streaming: false },
  { method: 'POST', path: '/synthetics', function: 'synthetics', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/synthetics/{id}', function: 'synthetics', auth: 'none', streaming: false },
  { method: 'PUT', path: '/synthetics/{id}', function: 'synthetics', auth: 'ingest', streaming: false },
  { method: 'DELETE', path: '/synthetics/{id}', function: 'synthetics', auth: 'ingest', streaming: false },
  {
    method: 'POST',
    path: '/synthetics/{id}/run',
    function: 'synthetic_run',
    auth: 'ingest',
    streaming: false,
  },
  { method: 'GET', path: '/alerts', function: 'alerts', auth: 'none', streaming: false },
  { method: 'GET', path: '/alerts/rules', function: 'alerts', auth: 'none', streaming: false },
  { method: 'POST', path: '/alerts/rules', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/alerts/rules/{id}', function: 'alerts', auth: 'none', streaming: false },
  { method: 'PUT', path: '/alerts/rules/{id}', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'DELETE', path: '/alerts/rules/{id}', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/alerts/channels', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'POST', path: '/alerts/channels', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'PUT', path: '/alerts/channels/{id}', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'DELETE', path: '/alerts/channels/{id}', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/maintenance', function: 'alerts', auth: 'none', streaming: false },
  { method: 'POST', path: '/maintenance', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'DELETE', path: '/maintenance/{id}', function: 'alerts', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/badge/{file}', function: 'badge', auth: 'none', streaming: false },
  { method: 'GET', path: '/badge/{endpoint}/{file}', function: 'badge', auth: 'none', streaming: false },
  { method: 'GET', path: '/metrics', function: 'metrics', auth: 'none', streaming: false },
];

export function functionSpec(name: string): FunctionSpec {
  const spec = FUNCTIONS.find((f) => f.name === name);
  if (!spec) throw new Error(`Unknown function "${name}"`);
  return spec;
}

/** A request method a route may answer: its own, or HEAD (see routeMethods). */
export type RequestMethod = HttpMethod | 'HEAD';

/**
 * The methods a route answers: a GET route answers HEAD too (RFC 9110 §9.3.2:
 * the GET's status and headers, no body). API Gateway matches methods exactly,
 * so the stack adds a HEAD route for each GET route; the local gateway and the
 * middleware match HEAD to the GET route through matchRoute.
 */
export function routeMethods(route: Pick<RouteSpec, 'method'>): RequestMethod[] {
  return route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];
}

/** The API Gateway route key of a route (or of one of its methods), e.g. `GET /health`. */
export function routeKey(route: { readonly method: string; readonly path: string }): string {
  return `${route.method} ${route.path}`;
}

export interface RouteMatch {
  route: RouteSpec;
  pathParameters: Record<string, string>;
}

/**
 * Finds the route for a method and path, API Gateway style: `{name}` matches
 * one path segment; HEAD finds the GET route (routeMethods).
 */
export function matchRoute(
  routes: readonly RouteSpec[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const segments = path.split('/').filter(Boolean);
  for (const route of routes) {
    if (!(routeMethods(route) as string[]).includes(method)) continue;
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== segments.length) continue;
    const pathParameters: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      const segment = segments[i] as string;
      const param = part.match(/^\{(\w+)\}$/)?.[1];
      if (param) {
        // A malformed escape is kept as sent: the handler's validation answers it with a 400.
        try {
          pathParameters[param] = decodeURIComponent(segment);
        } catch {
          pathParameters[param] = segment;
        }
        return true;
      }
      return part === segment;
    });
    if (matches) return { route, pathParameters };
  }
  return undefined;
}
