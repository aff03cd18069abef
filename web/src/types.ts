/**
 * The shapes of the API answers the dashboard reads (see shared/status/*,
 * shared/public-config.ts, shared/traces/*, shared/events/model.ts). Kept here
 * rather than imported, so the browser bundle never pulls in server code.
 */

export type Source = 'probe' | 'ingest';

export interface Latency {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean?: number | null;
}

export interface LastResult {
  ts: number;
  ok: boolean;
  status: number | null;
  errorType: string | null;
}

export interface Tokens {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
}

export interface SloView {
  good: number;
  valid: number;
  sli: number | null;
  errorBudgetRemaining: number | null;
  burnRate: { '1h': number | null; '6h': number | null };
}

export interface Summary {
  total: number;
  ok: number;
  failed: number;
  successRate: number | null;
  latencyMs: Latency;
  errors: Record<string, number>;
  statusClasses: Record<string, number>;
  tokens: Tokens;
  costUsd: number;
  pricedEvents: number;
  phasesMs: Record<string, number | null>;
  simulated: number;
  last: LastResult | null;
  slo: SloView;
}

export interface EndpointSummary extends Summary {
  endpoint: string;
}

export interface StatusAnswer {
  generatedAt: number;
  window: { from: number; to: number; minutes: number };
  upstream: 'real' | 'simulated';
  simulatedShare: number | null;
  slo: { objectivePercent: number; excludedErrors: string[] };
  overall: Summary;
  endpoints: EndpointSummary[];
  definitions: Record<string, string>;
}

export interface Point {
  t: number;
  total: number;
  ok: number;
  successRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  errors: Record<string, number>;
  tokens: Tokens;
  costUsd: number;
}

export interface Series {
  key: string;
  points: Point[];
}

export interface TimeseriesAnswer {
  from: number;
  to: number;
  bucketMs: number;
  resolution: 'minute' | 'hour';
  groupBy: string | null;
  series: Series[];
}

export interface HistogramAnswer {
  from: number;
  to: number;
  scale: 'log' | 'linear';
  count: number;
  bins: { lower: number; upper: number; count: number }[];
  percentiles: Record<'p50' | 'p95' | 'p99', { value: number; bin: number } | null>;
}

export interface ModelPrice {
  input: number;
  cachedInput: number;
  output: number;
}

export interface PublicConfig {
  version: string;
  upstream: 'real' | 'simulated';
  probes: {
    endpoints: string[];
    mode: string;
    intervalSec: number;
    timeoutMs: number;
    region: string;
    models: Record<string, string>;
  };
  slo: { objectivePercent: number; excludedErrors: string[] };
  retention: { eventsDays: number; rollupsDays: number };
  errorTypes: string[];
  sources: Source[];
  prices: {
    asOf: string;
    source: string;
    batchDiscount?: number;
    models: Record<string, ModelPrice>;
  };
}

export interface TraceEvent {
  id: string;
  ts: number;
  source: Source;
  endpoint: string;
  model?: string;
  region?: string;
  upstream?: 'real' | 'simulated';
  ok: boolean;
  status?: number;
  errorType?: string;
  errorMessage?: string;
  latencyMs: number;
  timing?: Record<string, number | boolean | undefined>;
  usage?: { input?: number; output?: number; cached?: number; reasoning?: number };
  responseBytes?: number;
  costUsd?: number;
  requestId?: string;
  processingMs?: number;
  rateLimit?: Record<string, number | undefined>;
  traceId?: string;
  spanId?: string;
  attributes?: Record<string, string>;
}

export interface TracesAnswer {
  items: TraceEvent[];
  nextCursor: string | null;
  scanned?: number;
}

export interface Incident {
  id: string;
  kind: 'declared' | 'detected';
  start: number;
  end: number | null;
  severity?: string;
  title?: string;
  description?: string;
  /** Detected incidents: the endpoint in breach. */
  endpoint?: string;
  /** Declared incidents: the endpoints concerned (absent: all). */
  endpoints?: string[];
  reason?: string;
  successRate?: number;
  p95Ms?: number | null;
}

export interface IncidentsAnswer {
  items: Incident[];
}
