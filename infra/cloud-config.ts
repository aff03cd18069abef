/**
 * The configuration of a deployment: the same variables as a local run
 * (shared/config.ts), given as CDK context (`cdk deploy -c PROBE_INTERVAL_SEC=120`)
 * or environment variables (context wins), validated by the same parseConfig.
 *
 * Which variables: the rows' scope (shared/config.ts). A deployment sets the
 * `cloud` and `both` ones; the functions get the `both` ones as environment,
 * except reserved ones (validated at synth, passed nowhere).
 * Secret variables never pass through here: they live in Secrets Manager and
 * the functions read them at run time (shared/secrets.ts). The stack wires
 * the storage names itself (infra/constructs/functions.ts).
 */
import type { Node } from 'constructs';
import { type Config, parseConfig, VARIABLES } from '../shared/config.js';
import { type FunctionSpec, type ScheduleRate, scheduleIntervalMs } from '../shared/routes.js';

type Env = Record<string, string | undefined>;

const DEPLOYABLE = VARIABLES.filter((v) => v.scope !== 'local' && v.secret !== true);

/** The names a deployment can set (context or environment). */
export const CLOUD_VARIABLES: readonly string[] = DEPLOYABLE.map((v) => v.name);

/** The names whose value the functions get as environment variables. */
export const FUNCTION_VARIABLES: readonly string[] = DEPLOYABLE.filter((v) => v.scope === 'both').map(
  (v) => v.name,
);

/** The secret variables: keys of the Secrets Manager secret, never in the environment. */
export const SECRET_VARIABLES: readonly string[] = VARIABLES.filter((v) => v.secret === true).map(
  (v) => v.name,
);

export interface CloudConfig {
  /** Parsed and validated, for the stack's own decisions (schedule rates, alarms). */
  readonly config: Config;
  /** The functions' environment for the configuration: every cloud variable, set value or default. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Builds the deployment's configuration from raw values (environment merged
 * with context). Throws the config module's one-line ConfigError on a bad value.
 */
export function cloudConfig(raw: Env = {}): CloudConfig {
  const input: Env = {};
  for (const name of CLOUD_VARIABLES) {
    const value = raw[name]?.trim();
    if (value) input[name] = value;
  }
  const config = parseConfig(input);
  const environment: Record<string, string> = {};
  for (const name of FUNCTION_VARIABLES) {
    const value = input[name] ?? VARIABLES.find((v) => v.name === name)?.default;
    if (value !== undefined) environment[name] = value;
  }
  return { config, environment };
}

/**
 * The raw configuration of `cdk synth/deploy`: the process environment, with
 * CDK context values of the same names (from `-c` or cdk.json) on top.
 */
export function rawConfigFromContext(node: Node, env: Env = process.env): Env {
  const raw: Env = {};
  for (const name of CLOUD_VARIABLES) {
    const fromContext = node.tryGetContext(name) as unknown;
    if (fromContext !== undefined && fromContext !== null) raw[name] = String(fromContext);
    else if (env[name] !== undefined) raw[name] = env[name];
  }
  return raw;
}

/**
 * EventBridge Scheduler fires at most once a minute, in whole minutes. The
 * probe interval must be one (a probe tick records its minute); the log
 * simulator's and indexer's intervals are rounded up to whole minutes.
 */
export function scheduleRateSec(spec: FunctionSpec, config: Config): number {
  const field: ScheduleRate | undefined = spec.schedule;
  if (!field) throw new Error(`Function "${spec.name}" has no schedule`);
  if (field !== 'probeIntervalSec') {
    return Math.max(60, Math.ceil(scheduleIntervalMs(field, config[field]) / 60_000) * 60);
  }
  const seconds = config[field];
  const variable = VARIABLE_OF_RATE[field];
  if (seconds < 60) {
    throw new Error(
      `${variable}=${seconds}: EventBridge schedules run at most once a minute; use 60 or more in the cloud (shorter intervals work locally)`,
    );
  }
  if (seconds % 60 !== 0) {
    throw new Error(
      `${variable}=${seconds}: EventBridge schedules run in whole minutes; use a multiple of 60 in the cloud`,
    );
  }
  return seconds;
}

/** The environment variable behind each schedule field, for error messages. */
const VARIABLE_OF_RATE: Record<ScheduleRate, string> = {
  probeIntervalSec: 'PROBE_INTERVAL_SEC',
  logSimIntervalMs: 'LOG_SIM_INTERVAL_MS',
  embIndexIntervalMs: 'EMB_INDEX_INTERVAL_MS',
  alertEvalIntervalSec: 'ALERT_EVAL_INTERVAL_SEC',
};
