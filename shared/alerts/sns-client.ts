/**
 * Publishes to an SNS topic. Its own module, imported on first use by the
 * e-mail channel: a dynamic import of the SDK package itself keeps every SNS
 * command in the bundle, while these static named imports let the bundler
 * drop all but Publish.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';

let client: SNSClient | undefined;

export async function publish(topicArn: string, subject: string, message: string): Promise<void> {
  client ??= new SNSClient({});
  await client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
}
