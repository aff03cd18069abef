import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Construct, Node } from 'constructs';
import { Storage } from './constructs/storage.js';

export const DEFAULT_STACK_NAME = 'openai-status';

export interface OpenAiStatusStackProps extends StackProps {
  /** Table and bucket removal policy. Default RETAIN. */
  readonly removalPolicy?: RemovalPolicy;
  /** DynamoDB deletion protection. Default: on, unless `removalPolicy` is DESTROY. */
  readonly deletionProtection?: boolean;
}

export class OpenAiStatusStack extends Stack {
  readonly table: Table;
  readonly artifactsBucket: Bucket;

  constructor(scope: Construct, id: string, props: OpenAiStatusStackProps = {}) {
    super(scope, id, {
      description: 'OpenAI API status and observability backend',
      ...props,
    });

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deletionProtection = props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY;

    const storage = new Storage(this, 'Storage', { removalPolicy, deletionProtection });
    this.table = storage.table;
    this.artifactsBucket = storage.artifactsBucket;

    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.artifactsBucket.bucketName });
  }
}

/**
 * Stack props from CDK context (`cdk synth -c removalPolicy=destroy -c deletionProtection=false`).
 * Values given with `-c` arrive as strings; values in cdk.json may be booleans.
 */
export function stackPropsFromContext(node: Node): OpenAiStatusStackProps & { stackName: string } {
  const stackName = node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME;
  if (typeof stackName !== 'string' || stackName === '') {
    throw new Error(`Context "stackName" must be a non-empty string, got ${JSON.stringify(stackName)}`);
  }
  return {
    stackName,
    removalPolicy: parseRemovalPolicy(node.tryGetContext('removalPolicy')),
    deletionProtection: parseBoolean('deletionProtection', node.tryGetContext('deletionProtection')),
  };
}

function parseRemovalPolicy(value: unknown): RemovalPolicy | undefined {
  if (value === undefined) return undefined;
  switch (String(value).toLowerCase()) {
    case 'retain':
      return RemovalPolicy.RETAIN;
    case 'destroy':
      return RemovalPolicy.DESTROY;
    default:
      throw new Error(`Context "removalPolicy" must be "retain" or "destroy", got ${JSON.stringify(value)}`);
  }
}

function parseBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context "${name}" must be true or false, got ${JSON.stringify(value)}`);
}
