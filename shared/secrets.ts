/**
 * Secrets in the cloud: the stack keeps the secret variables of the
 * configuration (OPENAI_API_KEY, INGEST_API_KEY) as one JSON secret in
 * Secrets Manager and gives a function only its ARN (`SECRET_ARN`), never the
 * values. CURSOR_SECRET, which the stack generates and nobody needs to set,
 * lives in a JSON secret of its own (`CURSOR_SECRET_ARN`), so replacing the
 * main secret's JSON can never drop it. `loadSecrets()` reads the secrets a
 * function was given (cached for `SECRET_MAX_AGE_SEC`, so once per cold start
 * plus a refresh every few minutes to pick up a new key) and layers their
 * values over the environment in the config module (`setSecrets`), in memory
 * only, where `getConfig()` reads them like any other variable.
 *
 * Locally there is no SECRET_ARN and this does nothing: `.env` and the
 * environment supply the values.
 */
import { clock } from './clock.js';
import { platformOf, SECRET_ARN_VARIABLES, setSecrets, VARIABLES } from './config.js';

/** The names of the secret variables: the keys of the secret's JSON. */
export const SECRET_KEYS: readonly string[] = VARIABLES.filter((v) => v.secret === true).map((v) => v.name);

/** What the stack writes for values not set yet; treated as unset, like an empty string. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

/** How long a fetched value is reused before Secrets Manager is asked again. */
const SECRET_MAX_AGE_SEC = 300;

/** Returns the secret's value: its JSON text or the parsed object. */
export type SecretFetcher = (arn: string) => Promise<unknown>;

/** Values fetched from Secrets Manager, by ARN, with when they were fetched. */
const fetched = new Map<string, { value: unknown; at: number }>();

/**
 * GetSecretValue through the SDK client (secrets-client.ts), imported on first
 * use only: functions without a secret never load (or, in their bundle, even
 * contain) it. The client directly rather than Powertools Parameters, which
 * added ~2 KB of bundle for the same call and cache.
 */
const fetchSecret: SecretFetcher = async (arn) => {
  const cached = fetched.get(arn);
  if (cached && clock.now() - cached.at < SECRET_MAX_AGE_SEC * 1000) return cached.value;
  const { getSecretString } = await import('./secrets-client.js');
  const value = await getSecretString(arn);
  fetched.set(arn, { value, at: clock.now() });
  return value;
};

/**
 * Makes the secrets' values available to `getConfig()`. No-op without
 * SECRET_ARN and CURSOR_SECRET_ARN. Throws (without any value in the message)
 * when a secret cannot be read or is not a JSON object.
 */
export async function loadSecrets(fetcher: SecretFetcher = fetchSecret): Promise<void> {
  // The platform part only: the rest of the configuration may still lack these secrets.
  const arns = platformOf().secretArns;
  if (arns.length === 0) {
    setSecrets({});
    return;
  }
  const values: Record<string, string | undefined> = {};
  for (const read of await Promise.all(arns.map(async (arn) => secretValues(await fetcher(arn))))) {
    for (const key of SECRET_KEYS) values[key] = read[key] ?? values[key];
  }
  setSecrets(values);
}

/** The usable values of the secret: strings that are neither empty nor the placeholder. */
export function secretValues(raw: unknown): Record<string, string | undefined> {
  let parsed = raw;
  if (typeof raw === 'string') {
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(
      `A secret (${SECRET_ARN_VARIABLES.join(', ')}) is not a JSON object with some of the keys ${SECRET_KEYS.join(', ')}`,
    );
  }
  const values: Record<string, string | undefined> = {};
  for (const key of SECRET_KEYS) {
    const value = (parsed as Record<string, unknown>)[key];
    const text = typeof value === 'string' ? value.trim() : undefined;
    values[key] = text && text !== SECRET_PLACEHOLDER ? text : undefined;
  }
  return values;
}
