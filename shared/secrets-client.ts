/**
 * Reads and writes a secret's string in Secrets Manager. Its own module
 * because secrets.ts and the alert channel secrets import it dynamically (only
 * functions given a secret use it): a
 * dynamic import of the SDK package itself would keep every command of the
 * client in the bundle, while these static named imports let the bundler
 * drop every other command (~12 KB less per function).
 */
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

let client: SecretsManagerClient | undefined;

export async function getSecretString(arn: string): Promise<string | undefined> {
  client ??= new SecretsManagerClient({});
  const answer = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  return answer.SecretString;
}

export async function putSecretString(arn: string, value: string): Promise<void> {
  client ??= new SecretsManagerClient({});
  await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value }));
}
