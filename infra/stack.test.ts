import { readFileSync } from 'node:fs';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ARTIFACT_PREFIXES, KEY_ATTRIBUTE_TYPE, TABLE } from '../shared/schema.js';
import { ARTIFACT_EXPIRATION_DAYS } from './constructs/storage.js';
import { OpenAiStatusStack, type OpenAiStatusStackProps, stackPropsFromContext } from './stack.js';

/** cdk.json, so the tests synthesize with the same feature flags as `cdk synth`. */
const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  versionReporting: boolean;
  notices: boolean;
  context: Record<string, unknown>;
};

function synth(props?: OpenAiStatusStackProps): Template {
  const app = new App({ context: cdkJson.context });
  return Template.fromStack(new OpenAiStatusStack(app, 'Test', props));
}

function onlyResource(
  template: Template,
  type: string,
): { Properties: Record<string, unknown> } & Record<string, unknown> {
  const resources = Object.values(template.findResources(type));
  expect(resources).toHaveLength(1);
  return resources[0] as { Properties: Record<string, unknown> } & Record<string, unknown>;
}

const keySchema = (pk: string, sk: string) => [
  { AttributeName: pk, KeyType: 'HASH' },
  { AttributeName: sk, KeyType: 'RANGE' },
];

const byName = (a: { AttributeName: string }, b: { AttributeName: string }) =>
  a.AttributeName.localeCompare(b.AttributeName);

describe('OpenAiStatusStack: table', () => {
  const template = synth();
  const table = onlyResource(template, 'AWS::DynamoDB::Table');

  it('uses the schema keys', () => {
    expect(table.Properties.KeySchema).toEqual(keySchema(TABLE.partitionKey, TABLE.sortKey));
    const names = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
    for (const gsi of TABLE.globalSecondaryIndexes) {
      names.add(gsi.partitionKey);
      names.add(gsi.sortKey);
    }
    const expected = [...names].map((AttributeName) => ({
      AttributeName,
      AttributeType: KEY_ATTRIBUTE_TYPE,
    }));
    const actual = [...(table.Properties.AttributeDefinitions as { AttributeName: string }[])];
    expect(actual.sort(byName)).toEqual(expected.sort(byName));
  });

  it('is on-demand, encrypted, with TTL and point-in-time recovery', () => {
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(table.Properties.ProvisionedThroughput).toBeUndefined();
  });

  it('has every GSI of the schema, projecting all attributes', () => {
    const expected = TABLE.globalSecondaryIndexes.map((gsi) => ({
      IndexName: gsi.indexName,
      KeySchema: keySchema(gsi.partitionKey, gsi.sortKey),
      Projection: { ProjectionType: 'ALL' },
    }));
    expect(expected.length).toBeGreaterThan(0);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(expected);
  });

  it('is retained with deletion protection by default', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
  });
});

describe('OpenAiStatusStack: artifacts bucket', () => {
  const template = synth();
  const bucket = onlyResource(template, 'AWS::S3::Bucket');

  it('blocks public access and encrypts with S3-managed keys', () => {
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
  });

  it('denies requests that are not over TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('expires exports and screenshots', () => {
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Prefix: ARTIFACT_PREFIXES.exports,
          ExpirationInDays: 7,
          Status: 'Enabled',
        }),
        expect.objectContaining({
          Prefix: ARTIFACT_PREFIXES.screenshots,
          ExpirationInDays: 30,
          Status: 'Enabled',
        }),
      ]),
    );
    expect(rules).toHaveLength(2);
    expect(ARTIFACT_EXPIRATION_DAYS).toEqual({ exports: 7, screenshots: 30 });
  });

  it('is retained by default, without auto-delete', () => {
    expect(bucket.DeletionPolicy).toBe('Retain');
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('OpenAiStatusStack: outputs', () => {
  it('outputs the table and bucket names', () => {
    const template = synth();
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0];
    const bucket = Object.keys(template.findResources('AWS::S3::Bucket'))[0];
    template.hasOutput('TableName', { Value: { Ref: table } });
    template.hasOutput('ArtifactsBucketName', { Value: { Ref: bucket } });
  });
});

describe('OpenAiStatusStack: destroy variant', () => {
  const template = synth({ removalPolicy: RemovalPolicy.DESTROY });

  it('deletes the table and turns deletion protection off', () => {
    const table = onlyResource(template, 'AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
  });

  it('deletes the bucket and its objects', () => {
    const bucket = onlyResource(template, 'AWS::S3::Bucket');
    expect(bucket.DeletionPolicy).toBe('Delete');
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  it('keeps deletion protection when asked explicitly', () => {
    const t = synth({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true });
    expect(onlyResource(t, 'AWS::DynamoDB::Table').Properties.DeletionProtectionEnabled).toBe(true);
  });
});

describe('stackPropsFromContext', () => {
  const props = (context: Record<string, unknown>) => stackPropsFromContext(new App({ context }).node);

  it('defaults', () => {
    expect(props({})).toEqual({
      stackName: 'openai-status',
      removalPolicy: undefined,
      deletionProtection: undefined,
    });
  });

  it('parses -c strings and cdk.json booleans', () => {
    expect(props({ stackName: 'dev', removalPolicy: 'destroy', deletionProtection: 'false' })).toEqual({
      stackName: 'dev',
      removalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
    });
    expect(props({ removalPolicy: 'retain', deletionProtection: true })).toMatchObject({
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
  });

  it('rejects unknown values', () => {
    expect(() => props({ removalPolicy: 'snapshot' })).toThrow(/removalPolicy/);
    expect(() => props({ deletionProtection: 'yes' })).toThrow(/deletionProtection/);
  });
});

describe('cdk.json', () => {
  it('runs the app offline and quietly', () => {
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
    expect(cdkJson.versionReporting).toBe(false);
    expect(cdkJson.notices).toBe(false);
    expect(cdkJson.context['cli-telemetry']).toBe(false);
  });
});
