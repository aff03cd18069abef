/**
 * Every environment variable the product reads, parsed and validated in one
 * place. A bad value throws a ConfigError whose message is one line naming the
 * variable, the value (never for secrets) and what was expected; the local
 * runner prints it and exits, a Lambda fails its cold start with it.
 *
 * Each variable is one row of ROWS, keyed by the Config field it fills: its
 * name, schema, default, scope, whether it is secret, and its description.
 * The `Config` type, `.env.example` (infra/local/env-example.ts), the README's
 * table (checked by a test) and the functions' cloud environment
 * (infra/cloud-config.ts) all derive from these rows.
 */

import { ERROR_TYPES } from './events/model.js';
import * as z from './zod.js';

/**
 * The probes, each once: `default` probes run unless PROBE_ENDPOINTS says
 * otherwise, `optional` ones when selected, `heavy` ones (cost money) only
 * with PROBE_HEAVY=1 as well.
 */
const PROBE_TABLE = [
  { key: 'chat', kind: 'default' },
  { key: 'responses', kind: 'default' },
  { key: 'embeddings', kind: 'default' },
  { key: 'moderations', kind: 'default' },
  { key: 'models', kind: 'default' },
  { key: 'files', kind: 'default' },
  { key: 'fine_tunes', kind: 'default' },
  { key: 'batches', kind: 'default' },
  { key: 'assistants', kind: 'default' },
  { key: 'images', kind: 'heavy' },
  { key: 'chat_stream', kind: 'optional' },
] as const satisfies readonly { key: string; kind: 'default' | 'optional' | 'heavy' }[];
export type ProbeKey = (typeof PROBE_TABLE)[number]['key'];
export const PROBE_KEYS: readonly ProbeKey[] = PROBE_TABLE.map((p) => p.key);
export const DEFAULT_PROBE_KEYS: readonly ProbeKey[] = PROBE_TABLE.filter((p) => p.kind === 'default').map(
  (p) => p.key,
);
export const HEAVY_PROBE_KEYS: readonly ProbeKey[] = PROBE_TABLE.filter((p) => p.kind === 'heavy').map(
  (p) => p.key,
);

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Where a variable is set: `local` by `npm start` only (.env, environment),
 * `cloud` at deploy time only (CDK context or environment; the stack itself
 * uses it), `both` in either, and then the functions get it in the cloud too.
 * Secret variables are never passed as context or function environment: in
 * the cloud they live in Secrets Manager (shared/secrets.ts).
 */
export type Scope = 'local' | 'cloud' | 'both';

interface Row {
  readonly name: string;
  readonly scope: Scope;
  readonly description: string;
  /** Raw default as it would be written in the environment; absent means unset. */
  readonly default?: string;
  /** What a valid value looks like, for the error message. */
  readonly expected: string;
  readonly secret?: boolean;
  /** Parses the (trimmed-to-non-empty) raw value. */
  readonly schema: z.ZodMiniType<unknown, string>;
}

/** Rows by Config field; a group (such as `incidents`) is a nested object of rows. */
type Table = { readonly [field: string]: Row | { readonly [field: string]: Row } };

/** A string trimmed (and otherwise transformed) by `checks`. */
const trimmed = (...checks: z.core.$ZodCheck<string>[]) => z.string().check(z.trim(), ...checks);
/** The raw value turned by `transform`, then checked by `schema`. */
const parsedBy = <T, S extends z.core.$ZodType<unknown, Awaited<T>>>(
  raw: z.core.$ZodType<string, string>,
  transform: (value: string) => T,
  schema: S,
) => z.pipe(z.pipe(raw, z.transform(transform)), schema);

const boolean = z.pipe(
  z.pipe(trimmed(z.toLowerCase()), z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])),
  z.transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
);
const int = (min: number, max: number) =>
  parsedBy(trimmed(z.regex(/^-?\d+$/)), Number, z.number().check(z.int(), z.gte(min), z.lte(max)));
const number = (min: number, max: number) =>
  parsedBy(trimmed(z.regex(/^-?\d+(\.\d+)?$/)), Number, z.number().check(z.gte(min), z.lte(max)));
const nonEmpty = trimmed(z.minLength(1));
const optionalSecret = trimmed();
const httpUrl = z.pipe(
  z.pipe(trimmed(), z.url({ protocol: /^https?$/ })),
  z.transform((u: string) => u.replace(/\/+$/, '')),
);
const probeList = parsedBy(
  z.string(),
  (v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  z.array(z.enum(PROBE_KEYS)).check(z.minLength(1)),
);

/** `host:port` pairs: a host name or IPv4 address, or an IPv6 address in brackets, and a port from 1 to 65535. */
const hostPortList = parsedBy(
  z.string(),
  (v) =>
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  z.array(
    z.string().check(
      z.regex(/^(\[[0-9a-f:.]+\]|[a-z0-9._-]+):\d{1,5}$/),
      z.refine((entry) => {
        const port = Number(entry.slice(entry.lastIndexOf(':') + 1));
        return port >= 1 && port <= 65_535;
      }),
    ),
  ),
);

/** The variables, in the order `.env.example` lists them. */
const ROWS = {
  // OpenAI upstream
  openaiApiKey: {
    name: 'OPENAI_API_KEY',
    scope: 'both',
    description: 'OpenAI key used by probes. Unset: probes go to the built-in simulator.',
    expected: 'an OpenAI API key',
    secret: true,
    schema: optionalSecret,
  },
  openaiBaseUrl: {
    name: 'OPENAI_BASE_URL',
    scope: 'both',
    description:
      'OpenAI API base URL. Unset: https://api.openai.com/v1 with a key, the local simulator without.',
    expected: 'an http(s) URL such as https://api.openai.com/v1',
    schema: httpUrl,
  },
  openaiModel: {
    name: 'OPENAI_MODEL',
    scope: 'both',
    default: 'gpt-4o-mini',
    description: 'Model for chat and responses probes.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  openaiEmbeddingsModel: {
    name: 'OPENAI_EMBEDDINGS_MODEL',
    scope: 'both',
    default: 'text-embedding-3-small',
    description: 'Model for the embeddings probe.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  openaiModerationModel: {
    name: 'OPENAI_MODERATION_MODEL',
    scope: 'both',
    default: 'omni-moderation-latest',
    description: 'Model for the moderations probe.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  // Probing
  probeRegion: {
    name: 'PROBE_REGION',
    scope: 'both',
    default: 'us-west-1',
    description: 'Region label recorded on every probe result.',
    expected: 'a region label',
    schema: nonEmpty,
  },
  probeIntervalSec: {
    name: 'PROBE_INTERVAL_SEC',
    scope: 'both',
    default: '60',
    description: 'Seconds between probe ticks (the cloud schedule needs at least 60).',
    expected: 'a whole number of seconds from 1 to 86400',
    schema: int(1, 86_400),
  },
  httpTimeoutMs: {
    name: 'HTTP_TIMEOUT_MS',
    scope: 'both',
    default: '12000',
    description: 'Timeout of one probe request.',
    expected: 'a whole number of milliseconds from 100 to 300000',
    schema: int(100, 300_000),
  },
  probeEndpoints: {
    name: 'PROBE_ENDPOINTS',
    scope: 'both',
    default: DEFAULT_PROBE_KEYS.join(','),
    description: 'Comma-separated probe keys to run.',
    expected: `a comma-separated list of ${PROBE_KEYS.join(', ')}`,
    schema: probeList,
  },
  probeMode: {
    name: 'PROBE_MODE',
    scope: 'both',
    default: 'roundrobin',
    description: 'roundrobin: one probe per tick; all: every selected probe each tick.',
    expected: 'roundrobin or all',
    schema: z.pipe(trimmed(z.toLowerCase()), z.enum(['roundrobin', 'all'])),
  },
  probeHeavy: {
    name: 'PROBE_HEAVY',
    scope: 'both',
    default: '0',
    description: 'Set to 1 to allow heavy probes (images).',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  // Ingestion
  ingestApiKey: {
    name: 'INGEST_API_KEY',
    scope: 'both',
    description:
      'Key for ingestion and protected operations (x-api-key or Authorization: Bearer). Unset: they answer 403.',
    expected: 'a key of at least 8 characters',
    secret: true,
    schema: trimmed(z.minLength(8)),
  },
  // Outbound requests to URLs users type (synthetic monitors, alert webhooks)
  egressAllow: {
    name: 'EGRESS_ALLOW',
    scope: 'both',
    description:
      'Comma-separated host:port exceptions to the egress guard (for example 127.0.0.1:8080 for a local test page). Metadata and link-local addresses can never be allowed.',
    expected: 'a comma-separated list of host:port, such as localhost:8080,[::1]:8443',
    schema: hostPortList,
  },
  // Synthetic monitors
  syntheticSecrets: {
    name: 'SYNTHETIC_SECRETS',
    scope: 'both',
    description:
      'Values that monitor steps refer to as {"secret": "NAME"}, as a JSON object {"NAME": "value"}; never stored in a spec.',
    expected: 'a JSON object of names (letters, digits, _) to string values',
    secret: true,
    schema: z.pipe(
      z.pipe(
        z.string(),
        z.transform((v: string, ctx) => {
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return z.refuse(ctx, 'not JSON');
          }
        }),
      ),
      z.record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/)), z.string()),
    ),
  },
  syntheticRunsPerMinute: {
    name: 'SYNTHETIC_RUNS_PER_MINUTE',
    scope: 'both',
    default: '10',
    description: 'Most synthetic runs (manual and scheduled together) started in one minute.',
    expected: 'a whole number from 1 to 600',
    schema: int(1, 600),
  },
  chromiumPath: {
    name: 'CHROMIUM_PATH',
    scope: 'local',
    default: '/usr/bin/chromium',
    description:
      'Chromium the synthetic browser runner starts locally (the cloud uses @sparticuz/chromium). Missing: runs fall back to HTTP.',
    expected: 'a file path',
    schema: nonEmpty,
  },
  // Alerts (shared/alerts/)
  alertEvalIntervalSec: {
    name: 'ALERT_EVAL_INTERVAL_SEC',
    scope: 'both',
    default: '60',
    description: 'Seconds between evaluations of the alert rules (the cloud needs a multiple of 60).',
    expected: 'a whole number of seconds from 1 to 3600',
    schema: int(1, 3600),
  },
  dashboardUrl: {
    name: 'DASHBOARD_URL',
    scope: 'both',
    description:
      'Address of the dashboard, linked from alert notifications. Unset: notifications carry no link.',
    expected: 'an http(s) URL such as https://status.example.com',
    schema: httpUrl,
  },
  // AI over the telemetry: the chat, log search and the log simulator
  enableAi: {
    name: 'ENABLE_AI',
    scope: 'both',
    default: '0',
    description:
      'Set to 1 to let the chat ask OpenAI (POST /ai/chat with llm: true). 0: the chat answers from the evidence alone, and says why.',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  aiChatModel: {
    name: 'AI_CHAT_MODEL',
    scope: 'both',
    default: 'gpt-4o-mini',
    description: 'Model that writes the chat answer from the evidence (Responses API).',
    expected: 'a model name',
    schema: nonEmpty,
  },
  aiChatInstructions: {
    name: 'AI_CHAT_INSTRUCTIONS',
    scope: 'both',
    description:
      'Instructions given to the chat model instead of the built-in ones (shared/ai/llm.ts); the evidence and the citation rules are always appended.',
    expected: 'text of at most 4000 characters',
    schema: trimmed(z.minLength(1), z.maxLength(4000)),
  },
  aiChatPerMinute: {
    name: 'AI_CHAT_PER_MINUTE',
    scope: 'both',
    default: '20',
    description: 'Chat questions allowed per minute for one API key (or one client address without a key).',
    expected: 'a whole number from 1 to 10000',
    schema: int(1, 10_000),
  },
  // Log search and the log simulator
  embeddingModel: {
    name: 'EMBEDDING_MODEL',
    scope: 'both',
    default: 'text-embedding-3-small',
    description:
      'Model that embeds log messages for search when OPENAI_API_KEY is set (256 dimensions); without a key a local hashing embedder is used.',
    expected: 'a model name',
    schema: nonEmpty,
  },
  logSimEnabled: {
    name: 'LOG_SIM_ENABLED',
    scope: 'both',
    default: '0',
    description: 'Starts the log simulator on boot when 1 (until GET /logs/sim/stop).',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  logSimIntervalMs: {
    name: 'LOG_SIM_INTERVAL_MS',
    scope: 'both',
    default: '30000',
    description:
      'Milliseconds between simulated log batches (the cloud schedule rounds up to whole minutes).',
    expected: 'a whole number of milliseconds from 1000 to 86400000',
    schema: int(1000, 86_400_000),
  },
  embIndexIntervalMs: {
    name: 'EMB_INDEX_INTERVAL_MS',
    scope: 'both',
    default: '45000',
    description:
      'Milliseconds between embedding-index runs of the log indexer (the cloud schedule rounds up to whole minutes).',
    expected: 'a whole number of milliseconds from 1000 to 86400000',
    schema: int(1000, 86_400_000),
  },
  // Data and SLO
  retentionDays: {
    name: 'RETENTION_DAYS',
    scope: 'both',
    default: '30',
    description: 'Days raw events are kept (TTL).',
    expected: 'a whole number of days from 1 to 3650',
    schema: int(1, 3650),
  },
  rollupRetentionDays: {
    name: 'ROLLUP_RETENTION_DAYS',
    scope: 'both',
    default: '400',
    description: 'Days hourly rollups are kept (TTL).',
    expected: 'a whole number of days from 1 to 3650',
    schema: int(1, 3650),
  },
  sloTarget: {
    name: 'SLO_TARGET',
    scope: 'both',
    default: '99.5',
    description: 'Availability objective in percent.',
    expected: 'a percentage above 0 and below 100, such as 99.5',
    schema: number(0, 100).check(z.refine((v) => v > 0 && v < 100)),
  },
  sloExcludeErrors: {
    name: 'SLO_EXCLUDE_ERRORS',
    scope: 'both',
    default: 'rate_limited',
    description:
      'Error types that do not count against the SLO (default: 429s, which follow your own quota, not OpenAI availability). "none": every failure counts.',
    expected: `a comma-separated list of ${ERROR_TYPES.join(', ')}, or "none"`,
    schema: parsedBy(
      z.string(),
      (v) =>
        v.trim().toLowerCase() === 'none'
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
      z.array(z.enum(ERROR_TYPES)),
    ),
  },
  sloExcludeMaintenance: {
    name: 'SLO_EXCLUDE_MAINTENANCE',
    scope: 'both',
    default: '0',
    description:
      'Set to 1 to leave the minutes inside maintenance windows out of the SLO figures (SLI, error budget, burn rates) and the burn-rate alert rules. 0: they count like any other minute.',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  incidents: {
    successRatePercent: {
      name: 'INCIDENT_SUCCESS_RATE',
      scope: 'both',
      default: '90',
      description:
        'Detected incidents: an endpoint whose success rate (percent) stays below this for INCIDENT_MIN_MINUTES.',
      expected: 'a percentage from 0 to 100',
      schema: number(0, 100),
    },
    p95Ms: {
      name: 'INCIDENT_P95_MS',
      scope: 'both',
      default: '10000',
      description:
        'Detected incidents: an endpoint whose p95 latency (ms) stays above this for INCIDENT_MIN_MINUTES.',
      expected: 'a whole number of milliseconds from 1 to 600000',
      schema: int(1, 600_000),
    },
    minMinutes: {
      name: 'INCIDENT_MIN_MINUTES',
      scope: 'both',
      default: '3',
      description: 'Detected incidents: how many consecutive measured minutes must breach a threshold.',
      expected: 'a whole number of minutes from 1 to 1440',
      schema: int(1, 1440),
    },
  },
  cursorSecret: {
    name: 'CURSOR_SECRET',
    scope: 'both',
    description:
      'Key that signs /traces cursors. Unset: npm start generates one and keeps it in DATA_DIR/cursor-secret; the cloud stack generates it in Secrets Manager.',
    expected: 'a string of at least 16 characters',
    secret: true,
    schema: trimmed(z.minLength(16)),
  },
  // Cloud
  alarmEmail: {
    name: 'ALARM_EMAIL',
    scope: 'cloud',
    description:
      'Cloud only: e-mail address subscribed to the alarm topic (confirm the mail AWS sends). Unset: no subscription.',
    expected: 'an e-mail address',
    schema: z.pipe(trimmed(), z.email()),
  },
  // Local runner
  port: {
    name: 'PORT',
    scope: 'local',
    default: '3000',
    description: 'Port of the local gateway (npm start).',
    expected: 'a port number from 0 to 65535',
    schema: int(0, 65_535),
  },
  host: {
    name: 'HOST',
    scope: 'local',
    default: '127.0.0.1',
    description: 'Address the local gateway listens on.',
    expected: 'an IP address or host name',
    schema: nonEmpty,
  },
  dataDir: {
    name: 'DATA_DIR',
    scope: 'local',
    default: '.data',
    description: 'Where the local DynamoDB and S3 keep their data.',
    expected: 'a directory path',
    schema: nonEmpty,
  },
  enableDb: {
    name: 'ENABLE_DB',
    scope: 'local',
    default: '1',
    description: 'Compatibility: 0 keeps local data in memory only (lost on exit).',
    expected: '1/0, true/false, yes/no or on/off',
    schema: boolean,
  },
  dbFile: {
    name: 'DB_FILE',
    scope: 'local',
    description: 'Compatibility: when DATA_DIR is unset, this path is used as the local data directory.',
    expected: 'a path',
    schema: nonEmpty,
  },
  logLevel: {
    name: 'LOG_LEVEL',
    scope: 'both',
    default: 'INFO',
    description: 'Log level: DEBUG, INFO, WARN, ERROR, SILENT.',
    expected: 'DEBUG, INFO, WARN, ERROR or SILENT',
    schema: z.pipe(trimmed(z.toUpperCase()), z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])),
  },
  // Simulator (used only when OPENAI_API_KEY is unset)
  simulator: {
    latency: {
      name: 'SIM_LATENCY',
      scope: 'local',
      default: 'realistic',
      description: 'Simulator latency: realistic, none, or a fixed number of milliseconds.',
      expected: 'realistic, none or a whole number of milliseconds',
      schema: z.union([z.enum(['realistic', 'none']), int(0, 600_000)]),
    },
    serverErrorRate: {
      name: 'SIM_ERROR_RATE',
      scope: 'local',
      default: '0',
      description: 'Share of simulator requests answered 5xx.',
      expected: 'a fraction from 0 to 1',
      schema: number(0, 1),
    },
    rateLimitRate: {
      name: 'SIM_RATE_LIMIT_RATE',
      scope: 'local',
      default: '0',
      description: 'Share of simulator requests answered 429 with retry-after.',
      expected: 'a fraction from 0 to 1',
      schema: number(0, 1),
    },
    slowRate: {
      name: 'SIM_SLOW_RATE',
      scope: 'local',
      default: '0',
      description: 'Share of simulator requests delayed past HTTP_TIMEOUT_MS.',
      expected: 'a fraction from 0 to 1',
      schema: number(0, 1),
    },
    dropRate: {
      name: 'SIM_DROP_RATE',
      scope: 'local',
      default: '0',
      description: 'Share of simulator requests whose connection is dropped.',
      expected: 'a fraction from 0 to 1',
      schema: number(0, 1),
    },
    malformedRate: {
      name: 'SIM_MALFORMED_RATE',
      scope: 'local',
      default: '0',
      description: 'Share of simulator requests answered 200 with a malformed body.',
      expected: 'a fraction from 0 to 1',
      schema: number(0, 1),
    },
  },
  // Storage wiring (set by the stack in the cloud, by the runner locally)
  tableName: {
    name: 'TABLE_NAME',
    scope: 'local',
    default: 'openai-status',
    description: 'DynamoDB table name.',
    expected: 'a table name of 3 to 255 characters',
    schema: trimmed(z.regex(/^[a-zA-Z0-9_.-]{3,255}$/)),
  },
  artifactsBucket: {
    name: 'ARTIFACTS_BUCKET',
    scope: 'local',
    default: 'openai-status-artifacts',
    description: 'S3 bucket for artifacts.',
    expected: 'a bucket name of 3 to 63 characters',
    schema: trimmed(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)),
  },
  dynamodbEndpoint: {
    name: 'DYNAMODB_ENDPOINT',
    scope: 'local',
    description: 'DynamoDB endpoint override (set by the local runner to dynalite).',
    expected: 'an http(s) URL',
    schema: httpUrl,
  },
  s3Endpoint: {
    name: 'S3_ENDPOINT',
    scope: 'local',
    description: 'S3 endpoint override (set by the local runner to s3rver).',
    expected: 'an http(s) URL',
    schema: httpUrl,
  },
} as const satisfies Table;

type Env = Record<string, string | undefined>;

/**
 * A row's parsed value: the schema's output, or undefined when unset without a
 * default. A group's, its rows' values.
 */
type ValueOf<R> = R extends { schema: infer S extends z.core.$ZodType; default: string }
  ? z.output<S>
  : R extends { schema: infer S extends z.core.$ZodType }
    ? z.output<S> | undefined
    : { -readonly [K in keyof R]: ValueOf<R[K]> };
/** Every row parsed, in the shape of the table. */
type Settings = ValueOf<typeof ROWS>;

const isRow = (entry: Row | { readonly [field: string]: Row }): entry is Row => 'schema' in entry;

export interface Variable extends Row {
  /** The Config field the variable fills, dotted for a group (`incidents.p95Ms`). */
  readonly field: string;
}

/** The variables as a flat list, in table order. */
export const VARIABLES: readonly Variable[] = Object.entries(ROWS as Table).flatMap(([field, entry]) =>
  isRow(entry)
    ? [{ ...entry, field }]
    : Object.entries(entry).map(([inner, row]) => ({ ...row, field: `${field}.${inner}` })),
);

const SECRET_ROWS = VARIABLES.filter((v) => v.secret === true);

/** Set when not absent and not blank: blank values count as unset everywhere. */
const isSet = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

function read(env: Env, row: Row): unknown {
  const raw = env[row.name];
  const value = isSet(raw) ? raw : row.default;
  if (value === undefined) return undefined;
  const parsed = row.schema.safeParse(value);
  if (!parsed.success) {
    const shown = row.secret ? '(hidden)' : JSON.stringify(value);
    throw new ConfigError(row.name, `Invalid ${row.name}=${shown}: expected ${row.expected}`);
  }
  return parsed.data;
}

/**
 * Every row through its schema. The one cast of the module: the result has the table's shape with each
 * active row replaced by its schema's output (or undefined), which is what
 * `Settings` states.
 */
function readRows(env: Env): Settings {
  const settings: Record<string, unknown> = {};
  for (const [field, entry] of Object.entries(ROWS as Table)) {
    if (isRow(entry)) {
      settings[field] = read(env, entry);
      continue;
    }
    const group: Record<string, unknown> = {};
    for (const [inner, row] of Object.entries(entry)) group[inner] = read(env, row);
    settings[field] = group;
  }
  return settings as Settings;
}

/** The environment variables naming the secrets (set by the stack), in order: a later secret's value wins. */
export const SECRET_ARN_VARIABLES = ['SECRET_ARN', 'CURSOR_SECRET_ARN'] as const;

/**
 * What Lambda or the stack sets for the functions, never a user: not rows,
 * not in `.env.example`. Cheap (no validation), so secrets can be located
 * before the rest is parsed.
 */
export function platformOf(env: Env = process.env) {
  const text = (name: string) => (isSet(env[name]) ? env[name].trim() : undefined);
  return {
    /** The SDK clients' region for local endpoints (Lambda's own region otherwise). */
    awsRegion: text('AWS_REGION'),
    /** True in a real Lambda (not in the local runner or tests). */
    inLambda: Boolean(env.AWS_LAMBDA_FUNCTION_NAME && env.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda_')),
    /** The probe metric's namespace, set per stack (shared/telemetry/probe-metrics.ts). */
    metricsNamespace: text('PROBE_METRICS_NAMESPACE'),
    /** The Secrets Manager secrets this function may read (shared/secrets.ts). */
    /** The SNS topic alert e-mails are published to (set by the stack for the evaluator). */
    alertTopicArn: text('ALERT_TOPIC_ARN'),
    /** The Secrets Manager secret holding the alert channels' secrets (shared/alerts/channel-secrets.ts). */
    alertChannelSecretArn: text('ALERT_CHANNEL_SECRET_ARN'),
    secretArns: SECRET_ARN_VARIABLES.map(text).filter((arn): arn is string => arn !== undefined),
  };
}
export type Platform = ReturnType<typeof platformOf>;

/** Parses the environment. Throws ConfigError (one line) on the first bad value. */
export function parseConfig(env: Env = process.env) {
  const { enableDb, dbFile, dataDir, openaiBaseUrl, probeEndpoints, ...settings } = readRows(env);
  const selected = [...new Set(probeEndpoints)];
  const heavy = selected.filter((k) => HEAVY_PROBE_KEYS.includes(k));
  if (heavy.length > 0 && !settings.probeHeavy) {
    throw new ConfigError(
      'PROBE_ENDPOINTS',
      `Invalid PROBE_ENDPOINTS=${JSON.stringify(env.PROBE_ENDPOINTS)}: ${heavy.join(', ')} ${heavy.length > 1 ? 'are heavy probes' : 'is a heavy probe'} and needs PROBE_HEAVY=1`,
    );
  }
  const key = settings.openaiApiKey || undefined;
  return {
    ...settings,
    openaiApiKey: key,
    /** Where probes send requests; undefined until the local runner starts the simulator. */
    openaiBaseUrl: openaiBaseUrl ?? (key ? 'https://api.openai.com/v1' : undefined),
    /** `real` with a key, `simulated` without: every recorded result carries it. */
    upstream: key ? ('real' as const) : ('simulated' as const),
    probeEndpoints: selected,
    /** Local data directory (DATA_DIR, else the older DB_FILE), or undefined when ENABLE_DB=0 (in-memory). */
    dataDir: enableDb ? (isSet(env[ROWS.dataDir.name]) ? dataDir : (dbFile ?? dataDir)) : undefined,
    platform: platformOf(env),
  };
}

export type Config = ReturnType<typeof parseConfig>;

/** The log level alone, without parsing the rest: undefined when invalid, so a bad config can still be logged. */
export function logLevel(env: Env = process.env) {
  const row = ROWS.logLevel;
  const parsed = row.schema.safeParse(isSet(env[row.name]) ? env[row.name] : row.default);
  return parsed.success ? parsed.data : undefined;
}

let cached: Config | undefined;
/** The secrets' values from Secrets Manager, layered over the environment (shared/secrets.ts). */
let secrets: Env = {};

/** The process's configuration, parsed once (per Lambda cold start), with the loaded secrets. */
export function getConfig(): Config {
  cached ??= parseConfig({ ...process.env, ...secrets });
  return cached;
}

/**
 * Replaces the loaded secrets (keys: the secret variables' names; undefined
 * means unset, whatever the environment says). An empty object drops the
 * layer. Returns whether anything changed; only then is the cache dropped.
 */
export function setSecrets(values: Env): boolean {
  const next: Env = {};
  for (const row of SECRET_ROWS) if (row.name in values) next[row.name] = values[row.name];
  const names = new Set([...Object.keys(secrets), ...Object.keys(next)]);
  const changed = [...names].some(
    (name) => !(name in secrets) || !(name in next) || secrets[name] !== next[name],
  );
  if (changed) {
    secrets = next;
    cached = undefined;
  }
  return changed;
}

/** Forget the cached configuration (tests, and the local runner after it sets endpoints). */
export function resetConfig(): void {
  cached = undefined;
}

/** The configuration with secrets replaced by whether they are set: safe to log or return. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const redacted: Record<string, unknown> = { ...config };
  for (const { field } of SECRET_ROWS) {
    redacted[`${field}Set`] = Boolean(redacted[field]);
    delete redacted[field];
  }
  return redacted;
}
