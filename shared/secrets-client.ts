/**
 * Reads a secret's string from Secrets Manager. Its own module because
 * secrets.ts imports it dynamically (only functions given a secret use it): a
 * dynamic import of the SDK package itself would keep every command of the
 * client in the bundle, while these static named imports let the bundler
 * drop all but GetSecretValue (~12 KB less per function).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

let client: SecretsManagerClient | undefined;

export async function getSecretString(arn: string): Promise<string | undefined> {
  client ??= new SecretsManagerClient({});
  const answer = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  return answer.SecretString;
}
