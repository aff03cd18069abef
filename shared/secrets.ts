/**
 * Secrets in the cloud: the stack keeps every secret variable of the
 * configuration (OPENAI_API_KEY, INGEST_API_KEY, …) as one JSON secret in
 * Secrets Manager and gives a function only its ARN (`SECRET_ARN`), never the
 * values. `loadSecrets()` reads the secret (cached for `SECRET_MAX_AGE_SEC`, so
 * once per cold start plus a refresh every few minutes to pick up a new key)
 * and puts the values into this process's environment, in memory only, where
 * `getConfig()` reads them like any other variable.
 *
 * Locally there is no SECRET_ARN and this does nothing: `.env` and the
 * environment supply the values.
 */
import { resetConfig, VARIABLES } from './config.js';

/** The names of the secret variables: the keys of the secret's JSON. */
export const SECRET_KEYS: readonly string[] = VARIABLES.filter((v) => 'secret' in v && v.secret).map(
  (v) => v.name,
);

/** What the stack writes for values not set yet; treated as unset, like an empty string. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

/** How long a fetched value is reused before Secrets Manager is asked again. */
export const SECRET_MAX_AGE_SEC = 300;

/** Returns the secret's value: its JSON text or the parsed object. */
export type SecretFetcher = (arn: string) => Promise<unknown>;

/**
 * Powertools Parameters, imported on first use only: functions without a
 * secret never load (or, in their bundle, even contain) the Secrets Manager client.
 */
const fetchSecret: SecretFetcher = async (arn) => {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  return getSecret(arn, { transform: 'json', maxAge: SECRET_MAX_AGE_SEC });
};

/**
 * Makes the secret's values available to `getConfig()`. No-op without
 * SECRET_ARN. Throws (without any value in the message) when the secret cannot
 * be read or is not a JSON object.
 */
export async function loadSecrets(fetcher: SecretFetcher = fetchSecret): Promise<void> {
  const arn = process.env.SECRET_ARN?.trim();
  if (!arn) return;
  const values = secretValues(await fetcher(arn));
  let changed = false;
  for (const key of SECRET_KEYS) {
    const value = values[key];
    if (value === undefined) {
      if (process.env[key] !== undefined) {
        delete process.env[key];
        changed = true;
      }
    } else if (process.env[key] !== value) {
      process.env[key] = value;
      changed = true;
    }
  }
  if (changed) resetConfig();
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
    throw new Error(`The secret SECRET_ARN is not a JSON object with the keys ${SECRET_KEYS.join(', ')}`);
  }
  const values: Record<string, string | undefined> = {};
  for (const key of SECRET_KEYS) {
    const value = (parsed as Record<string, unknown>)[key];
    const text = typeof value === 'string' ? value.trim() : undefined;
    values[key] = text && text !== SECRET_PLACEHOLDER ? text : undefined;
  }
  return values;
}
