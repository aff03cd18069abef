/**
 * Every environment variable the product reads, parsed and validated in one
 * place. A bad value throws a ConfigError whose message is one line naming the
 * variable, the value (never for secrets) and what was expected; the local
 * runner prints it and exits, a Lambda fails its cold start with it.
 *
 * `.env.example` is checked against VARIABLES by a test, so the two cannot drift.
 */
// Namespace import: lets esbuild tree-shake zod (the `z` object pulls in every locale, ~370 KB minified).
import * as z from 'zod';
import { ERROR_TYPES, type ErrorType } from './events/model.js';

/** Probe keys that exist. `images` is heavy (opt-in) and `chat_stream` is available but not default. */
export const PROBE_KEYS = [
  'chat',
  'responses',
  'embeddings',
  'moderations',
  'models',
  'files',
  'fine_tunes',
  'batches',
  'assistants',
  'images',
  'chat_stream',
] as const;
export type ProbeKey = (typeof PROBE_KEYS)[number];
export const DEFAULT_PROBE_KEYS: readonly ProbeKey[] = [
  'chat',
  'responses',
  'embeddings',
  'moderations',
  'models',
  'files',
  'fine_tunes',
  'batches',
  'assistants',
];
export const HEAVY_PROBE_KEYS: readonly ProbeKey[] = ['images'];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface Variable {
  readonly name: string;
  readonly description: string;
  /** Raw default as it would be written in the environment; undefined means unset. */
  readonly default?: string;
  /** What a valid value looks like, for the error message. */
  readonly expected: string;
  readonly secret?: boolean;
  readonly schema: z.ZodType;
}

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off']))
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const number = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const nonEmpty = z.string().trim().min(1);
const optionalSecret = z.string().trim();
const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/ }))
  .transform((u) => u.replace(/\/+$/, ''));
const probeList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(PROBE_KEYS)).min(1));

/** The variables, in the order `.env.example` lists them. */
export const VARIABLES = [
  // OpenAI upstream
  {
    name: 'OPENAI_API_KEY',
    description: 'OpenAI key used by probes (and AI features). Unset: probes go to the built-in simulator.',
    expected: 'an OpenAI API key',
    secret: true,
    schema: optionalSecret,
  },
  {
    name: 'OPENAI_BASE_URL',
    description:
      'OpenAI API base URL. Unset: https://api.openai.com/v1 with a key, the local simulator without.',
    expected: 'an http(s) URL such as https://api.openai.com/v1',
    schema: httpUrl,
  },
  {
    name: 'OPENAI_MODEL',
    default: 'gpt-4o-mini',
    description: 'Model for chat and responses probes.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  {
    name: 'OPENAI_EMBEDDINGS_MODEL',
    default: 'text-embedding-3-small',
    description: 'Model for the embeddings probe.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  {
    name: 'OPENAI_MODERATION_MODEL',
    default: 'omni-moderation-latest',
    description: 'Model for the moderations probe.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  // Probing
  {
    name: 'PROBE_REGION',
    default: 'us-west-1',
    description: 'Region label recorded on every probe result.',
    expected: 'a region label',
    schema: nonEmpty,
  },
  {
    name: 'PROBE_INTERVAL_SEC',
    default: '60',
    description: 'Seconds between probe ticks (the cloud schedule needs at least 60).',
    expected: 'a whole number of seconds from 1 to 86400',
    schema: int(1, 86_400),
  },
  {
    name: 'HTTP_TIMEOUT_MS',
    default: '12000',
    description: 'Timeout of one probe request.',
    expected: 'a whole number of milliseconds from 100 to 300000',
    schema: int(100, 300_000),
  },
  {
    name: 'PROBE_ENDPOINTS',
    default: DEFAULT_PROBE_KEYS.join(','),
    description: 'Comma-separated probe keys to run.',
    expected: `a comma-separated list of ${PROBE_KEYS.join(', ')}`,
    schema: probeList,
  },
  {
    name: 'PROBE_MODE',
    default: 'roundrobin',
    description: 'roundrobin: one probe per tick; all: every selected probe each tick.',
    expected: 'roundrobin or all',
    schema: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['roundrobin', 'all'])),
  },
  {
    name: 'PROBE_HEAVY',
    default: '0',
    description: 'Set to 1 to allow heavy probes (images).',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  // Ingestion, AI, logs
  {
    name: 'INGEST_API_KEY',
    description:
      'Key for ingestion and protected operations (x-api-key or Authorization: Bearer). Unset: they answer 403.',
    expected: 'a key of at least 8 characters',
    secret: true,
    schema: z.string().trim().min(8),
  },
  {
    name: 'ENABLE_AI',
    default: '0',
    description: 'Set to 1 to enable log search embeddings and the OpenAI-enhanced chat.',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  {
    name: 'EMBEDDING_MODEL',
    default: 'text-embedding-3-small',
    description: 'Model used to embed logs for search.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  {
    name: 'LOG_SIM_ENABLED',
    default: '0',
    description: 'Set to 1 to start the log simulator automatically.',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  {
    name: 'LOG_SIM_INTERVAL_MS',
    default: '30000',
    description: 'Milliseconds between simulated log batches.',
    expected: 'a whole number of milliseconds from 1000 to 86400000',
    schema: int(1000, 86_400_000),
  },
  {
    name: 'EMB_INDEX_INTERVAL_MS',
    default: '45000',
    description: 'Milliseconds between embedding-index ticks.',
    expected: 'a whole number of milliseconds from 1000 to 86400000',
    schema: int(1000, 86_400_000),
  },
  // Data and SLO
  {
    name: 'RETENTION_DAYS',
    default: '30',
    description: 'Days raw events and logs are kept (TTL).',
    expected: 'a whole number of days from 1 to 3650',
    schema: int(1, 3650),
  },
  {
    name: 'ROLLUP_RETENTION_DAYS',
    default: '400',
    description: 'Days hourly rollups are kept (TTL).',
    expected: 'a whole number of days from 1 to 3650',
    schema: int(1, 3650),
  },
  {
    name: 'SLO_TARGET',
    default: '99.5',
    description: 'Availability objective in percent.',
    expected: 'a percentage above 0 and below 100, such as 99.5',
    schema: number(0, 100).refine((v) => v > 0 && v < 100),
  },
  {
    name: 'SLO_EXCLUDE_ERRORS',
    default: 'rate_limited',
    description:
      'Error types that do not count against the SLO (default: 429s, which follow your own quota, not OpenAI availability). "none": every failure counts.',
    expected: `a comma-separated list of ${ERROR_TYPES.join(', ')}, or "none"`,
    schema: z
      .string()
      .transform((v) =>
        v.trim().toLowerCase() === 'none'
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
      )
      .pipe(z.array(z.enum(ERROR_TYPES))),
  },
  {
    name: 'INCIDENT_SUCCESS_RATE',
    default: '90',
    description:
      'Detected incidents: an endpoint whose success rate (percent) stays below this for INCIDENT_MIN_MINUTES.',
    expected: 'a percentage from 0 to 100',
    schema: number(0, 100),
  },
  {
    name: 'INCIDENT_P95_MS',
    default: '10000',
    description:
      'Detected incidents: an endpoint whose p95 latency (ms) stays above this for INCIDENT_MIN_MINUTES.',
    expected: 'a whole number of milliseconds from 1 to 600000',
    schema: int(1, 600_000),
  },
  {
    name: 'INCIDENT_MIN_MINUTES',
    default: '3',
    description: 'Detected incidents: how many consecutive measured minutes must breach a threshold.',
    expected: 'a whole number of minutes from 1 to 1440',
    schema: int(1, 1440),
  },
  {
    name: 'CURSOR_SECRET',
    description:
      'Key that signs /traces cursors. Unset: npm start generates one and keeps it in DATA_DIR/cursor-secret; the cloud stack generates it in Secrets Manager.',
    expected: 'a string of at least 16 characters',
    secret: true,
    schema: z.string().trim().min(16),
  },
  // Cloud
  {
    name: 'ALARM_EMAIL',
    description:
      'Cloud only: e-mail address subscribed to the alarm topic (confirm the mail AWS sends). Unset: no subscription.',
    expected: 'an e-mail address',
    schema: z.string().trim().pipe(z.email()),
  },
  // Local runner
  {
    name: 'PORT',
    default: '3000',
    description: 'Port of the local gateway (npm start).',
    expected: 'a port number from 0 to 65535',
    schema: int(0, 65_535),
  },
  {
    name: 'HOST',
    default: '127.0.0.1',
    description: 'Address the local gateway listens on.',
    expected: 'an IP address or host name',
    schema: nonEmpty,
  },
  {
    name: 'DATA_DIR',
    default: '.data',
    description: 'Where the local DynamoDB and S3 keep their data.',
    expected: 'a directory path',
    schema: nonEmpty,
  },
  {
    name: 'ENABLE_DB',
    default: '1',
    description: 'Compatibility: 0 keeps local data in memory only (lost on exit).',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  {
    name: 'DB_FILE',
    description: 'Compatibility: when DATA_DIR is unset, this path is used as the local data directory.',
    expected: 'a path',
    schema: nonEmpty,
  },
  {
    name: 'LOG_LEVEL',
    default: 'INFO',
    description: 'Log level: DEBUG, INFO, WARN, ERROR, SILENT.',
    expected: 'DEBUG, INFO, WARN, ERROR or SILENT',
    schema: z
      .string()
      .trim()
      .toUpperCase()
      .pipe(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])),
  },
  // Simulator (used only when OPENAI_API_KEY is unset)
  {
    name: 'SIM_LATENCY',
    default: 'realistic',
    description: 'Simulator latency: realistic, none, or a fixed number of milliseconds.',
    expected: 'realistic, none or a whole number of milliseconds',
    schema: z.union([z.enum(['realistic', 'none']), int(0, 600_000)]),
  },
  {
    name: 'SIM_ERROR_RATE',
    default: '0',
    description: 'Share of simulator requests answered 5xx.',
    expected: 'a fraction from 0 to 1',
    schema: number(0, 1),
  },
  {
    name: 'SIM_RATE_LIMIT_RATE',
    default: '0',
    description: 'Share of simulator requests answered 429 with retry-after.',
    expected: 'a fraction from 0 to 1',
    schema: number(0, 1),
  },
  {
    name: 'SIM_SLOW_RATE',
    default: '0',
    description: 'Share of simulator requests delayed past HTTP_TIMEOUT_MS.',
    expected: 'a fraction from 0 to 1',
    schema: number(0, 1),
  },
  {
    name: 'SIM_DROP_RATE',
    default: '0',
    description: 'Share of simulator requests whose connection is dropped.',
    expected: 'a fraction from 0 to 1',
    schema: number(0, 1),
  },
  {
    name: 'SIM_MALFORMED_RATE',
    default: '0',
    description: 'Share of simulator requests answered 200 with a malformed body.',
    expected: 'a fraction from 0 to 1',
    schema: number(0, 1),
  },
  // Storage wiring (set by the stack in the cloud, by the runner locally)
  {
    name: 'TABLE_NAME',
    default: 'openai-status',
    description: 'DynamoDB table name.',
    expected: 'a table name of 3 to 255 characters',
    schema: z
      .string()
      .trim()
      .regex(/^[a-zA-Z0-9_.-]{3,255}$/),
  },
  {
    name: 'ARTIFACTS_BUCKET',
    default: 'openai-status-artifacts',
    description: 'S3 bucket for artifacts.',
    expected: 'a bucket name of 3 to 63 characters',
    schema: z
      .string()
      .trim()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
  },
  {
    name: 'DYNAMODB_ENDPOINT',
    description: 'DynamoDB endpoint override (set by the local runner to dynalite).',
    expected: 'an http(s) URL',
    schema: httpUrl,
  },
  {
    name: 'S3_ENDPOINT',
    description: 'S3 endpoint override (set by the local runner to s3rver).',
    expected: 'an http(s) URL',
    schema: httpUrl,
  },
] as const satisfies readonly Variable[];

type VariableName = (typeof VARIABLES)[number]['name'];
type Env = Record<string, string | undefined>;

export interface Config {
  openaiApiKey: string | undefined;
  /** Where probes send requests; undefined until the local runner starts the simulator. */
  openaiBaseUrl: string | undefined;
  /** `real` with a key, `simulated` without: every recorded result carries it. */
  upstream: 'real' | 'simulated';
  openaiModel: string;
  openaiEmbeddingsModel: string;
  openaiModerationModel: string;
  probeRegion: string;
  probeIntervalSec: number;
  httpTimeoutMs: number;
  probeEndpoints: ProbeKey[];
  probeMode: 'roundrobin' | 'all';
  probeHeavy: boolean;
  ingestApiKey: string | undefined;
  enableAi: boolean;
  embeddingModel: string;
  logSimEnabled: boolean;
  logSimIntervalMs: number;
  embIndexIntervalMs: number;
  retentionDays: number;
  rollupRetentionDays: number;
  sloTarget: number;
  /** Error types that count neither as good nor as bad for the SLO. */
  sloExcludeErrors: ErrorType[];
  incidents: { successRatePercent: number; p95Ms: number; minMinutes: number };
  cursorSecret: string | undefined;
  /** Where the cloud stack sends alarm e-mails. */
  alarmEmail: string | undefined;
  port: number;
  host: string;
  /** Local data directory, or undefined when ENABLE_DB=0 (in-memory). */
  dataDir: string | undefined;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  simulator: {
    latency: 'realistic' | 'none' | number;
    serverErrorRate: number;
    rateLimitRate: number;
    slowRate: number;
    dropRate: number;
    malformedRate: number;
  };
  tableName: string;
  artifactsBucket: string;
  dynamodbEndpoint: string | undefined;
  s3Endpoint: string | undefined;
}

function read(env: Env, name: VariableName): unknown {
  const spec = VARIABLES.find((v) => v.name === name) as Variable;
  const raw = env[name];
  const value = raw === undefined || raw.trim() === '' ? spec.default : raw;
  if (value === undefined) return undefined;
  const parsed = spec.schema.safeParse(value);
  if (!parsed.success) {
    const shown = spec.secret ? '(hidden)' : JSON.stringify(value);
    throw new ConfigError(name, `Invalid ${name}=${shown}: expected ${spec.expected}`);
  }
  return parsed.data;
}

/** Parses the environment. Throws ConfigError (one line) on the first bad value. */
export function parseConfig(env: Env = process.env): Config {
  const r = <T>(name: VariableName) => read(env, name) as T;
  const openaiApiKey = r<string | undefined>('OPENAI_API_KEY') || undefined;
  const probeEndpoints = [...new Set(r<ProbeKey[]>('PROBE_ENDPOINTS'))];
  const probeHeavy = r<boolean>('PROBE_HEAVY');
  const heavy = probeEndpoints.filter((k) => HEAVY_PROBE_KEYS.includes(k));
  if (heavy.length > 0 && !probeHeavy) {
    throw new ConfigError(
      'PROBE_ENDPOINTS',
      `Invalid PROBE_ENDPOINTS=${JSON.stringify(env.PROBE_ENDPOINTS)}: ${heavy.join(', ')} ${heavy.length > 1 ? 'are heavy probes' : 'is a heavy probe'} and needs PROBE_HEAVY=1`,
    );
  }
  const enableDb = r<boolean>('ENABLE_DB');
  const dataDir = env.DATA_DIR?.trim()
    ? r<string>('DATA_DIR')
    : (r<string | undefined>('DB_FILE') ?? r<string>('DATA_DIR'));
  const simLatency = r<'realistic' | 'none' | number>('SIM_LATENCY');
  return {
    openaiApiKey,
    openaiBaseUrl:
      r<string | undefined>('OPENAI_BASE_URL') ?? (openaiApiKey ? 'https://api.openai.com/v1' : undefined),
    upstream: openaiApiKey ? 'real' : 'simulated',
    openaiModel: r('OPENAI_MODEL'),
    openaiEmbeddingsModel: r('OPENAI_EMBEDDINGS_MODEL'),
    openaiModerationModel: r('OPENAI_MODERATION_MODEL'),
    probeRegion: r('PROBE_REGION'),
    probeIntervalSec: r('PROBE_INTERVAL_SEC'),
    httpTimeoutMs: r('HTTP_TIMEOUT_MS'),
    probeEndpoints,
    probeMode: r('PROBE_MODE'),
    probeHeavy,
    ingestApiKey: r<string | undefined>('INGEST_API_KEY'),
    enableAi: r('ENABLE_AI'),
    embeddingModel: r('EMBEDDING_MODEL'),
    logSimEnabled: r('LOG_SIM_ENABLED'),
    logSimIntervalMs: r('LOG_SIM_INTERVAL_MS'),
    embIndexIntervalMs: r('EMB_INDEX_INTERVAL_MS'),
    retentionDays: r('RETENTION_DAYS'),
    rollupRetentionDays: r('ROLLUP_RETENTION_DAYS'),
    sloTarget: r('SLO_TARGET'),
    sloExcludeErrors: r('SLO_EXCLUDE_ERRORS'),
    incidents: {
      successRatePercent: r('INCIDENT_SUCCESS_RATE'),
      p95Ms: r('INCIDENT_P95_MS'),
      minMinutes: r('INCIDENT_MIN_MINUTES'),
    },
    cursorSecret: r<string | undefined>('CURSOR_SECRET'),
    alarmEmail: r<string | undefined>('ALARM_EMAIL'),
    port: r('PORT'),
    host: r('HOST'),
    dataDir: enableDb ? dataDir : undefined,
    logLevel: r('LOG_LEVEL'),
    simulator: {
      latency: simLatency,
      serverErrorRate: r('SIM_ERROR_RATE'),
      rateLimitRate: r('SIM_RATE_LIMIT_RATE'),
      slowRate: r('SIM_SLOW_RATE'),
      dropRate: r('SIM_DROP_RATE'),
      malformedRate: r('SIM_MALFORMED_RATE'),
    },
    tableName: r('TABLE_NAME'),
    artifactsBucket: r('ARTIFACTS_BUCKET'),
    dynamodbEndpoint: r<string | undefined>('DYNAMODB_ENDPOINT'),
    s3Endpoint: r<string | undefined>('S3_ENDPOINT'),
  };
}

let cached: Config | undefined;

/** The process's configuration, parsed once (per Lambda cold start). */
export function getConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}

/** Forget the cached configuration (tests, and the local runner after it sets endpoints). */
export function resetConfig(): void {
  cached = undefined;
}

/** The configuration with secrets replaced by whether they are set: safe to log or return. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const { openaiApiKey, ingestApiKey, cursorSecret, ...rest } = config;
  return {
    ...rest,
    openaiApiKeySet: Boolean(openaiApiKey),
    ingestApiKeySet: Boolean(ingestApiKey),
    cursorSecretSet: Boolean(cursorSecret),
  };
}
