import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { VARIABLES } from '../shared/config.js';
import {
  CONTENT_SECURITY_POLICY,
  PLAIN_HTTP_SECURITY_HEADERS,
  SECURITY_HEADERS,
} from '../shared/http/headers.js';
import { FUNCTIONS, type FunctionSpec, ROUTES, type RouteSpec, routeKey } from '../shared/routes.js';
import { KEY_ATTRIBUTE_TYPE, TABLE } from '../shared/schema.js';
import { SECRET_PLACEHOLDER } from '../shared/secrets.js';
import { PROBE_METRIC } from '../shared/telemetry/probe-metrics.js';
import { CLOUD_VARIABLES, cloudConfig, FUNCTION_VARIABLES, SECRET_VARIABLES } from './cloud-config.js';
import { PROBE_FAILURE_ALARM_RATE, probeAlarmPeriodSec } from './constructs/alarms.js';
import { API_THROTTLE, Api } from './constructs/api.js';
import { bundleBytes, bundleOutputs, ENTRY_FILE, METAFILE } from './constructs/bundling.js';
import { FUNCTION_LOG_RETENTION, needsSecrets, PROJECT_ROOT } from './constructs/functions.js';
import {
  apiPathPatterns,
  MAX_CACHE_BEHAVIORS,
  routePathPattern,
  SPA_REWRITE_FUNCTION,
} from './constructs/web.js';
import { CURSOR_SECRET_KEY, GENERATED_SECRET_KEY, stackPropsFromContext } from './stack.js';
import {
  type CfnResourceJson,
  cdkJson,
  logicalId,
  resourceOf,
  type Synthesized,
  synthStack,
} from './testing.js';

/** CloudFront's managed policies, by their fixed IDs. */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

/** Passed as configuration to the main stack: none may reach the template. */
const SECRET_SENTINELS = {
  OPENAI_API_KEY: 'sk-sentinel-openai-never-in-template',
  INGEST_API_KEY: 'sentinel-ingest-never-in-template',
  CURSOR_SECRET: 'sentinel-cursor-never-in-template',
};

/**
 * The cold start target of an HTTP function (issue 12; bench/bundles.ts
 * measures it): the JavaScript Lambda loads at init, i.e. the entry chunk and
 * the chunks it imports statically. Chunks imported on first use (the openai
 * SDK, the S3 client) are not loaded at init and do not count.
 */
const BUNDLE_TARGET_BYTES = 500 * 1024;

/** HTTP functions still over the target at init, with the size (KB) they must not grow past. None today. */
const BUNDLE_CEILINGS_OVER_TARGET: Record<string, number> = {};

/**
 * Scheduled functions have no size target (nobody waits on their cold
 * start), but a ceiling (KB at init) keeps them from growing unnoticed. The
 * probe loads the openai SDK at init (~150 KB: its error classes are imported
 * statically, and every tick calls OpenAI anyway).
 */
const SCHEDULED_BUNDLE_CEILINGS: Record<string, number> = {
  probe: 525,
  synthetics_dispatch: 375,
  alerts_eval: 345,
};

let main: Synthesized;
let template: Template;
let resources: Record<string, CfnResourceJson>;

beforeAll(() => {
  // The real stack, bundled with esbuild exactly as `cdk synth` does: once for this file.
  main = synthStack({ config: { ...SECRET_SENTINELS } }, { bundle: true });
  template = main.template;
  resources = (template.toJSON() as { Resources: Record<string, CfnResourceJson> }).Resources;
}, 300_000);

/** The HTTP API route keys a route table needs: one per route, and HEAD beside each GET. */
const apiRouteKeys = (routes: readonly RouteSpec[]) =>
  routes
    .filter((r) => !r.streaming)
    .flatMap((r) => (r.method === 'GET' ? [routeKey(r), `HEAD ${r.path}`] : [routeKey(r)]));

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const getAtt = (construct: IConstruct, attribute: string) => ({
  'Fn::GetAtt': [logicalId(construct), attribute],
});

const keySchema = (pk: string, sk: string) => [
  { AttributeName: pk, KeyType: 'HASH' },
  { AttributeName: sk, KeyType: 'RANGE' },
];

const byName = (a: { AttributeName: string }, b: { AttributeName: string }) =>
  a.AttributeName.localeCompare(b.AttributeName);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** The IAM statements attached to a role. */
function statementsOf(roleLogicalId: string): Statement[] {
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) =>
      (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r).includes(roleLogicalId)),
    )
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const actionsOf = (statements: Statement[]) =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

/** The function reads a Secrets Manager secret: the main one, the cursor key, the alert channels' secrets. */
const readsASecret = (spec: FunctionSpec) =>
  needsSecrets(spec, ROUTES) ||
  spec.access?.cursorSecret === true ||
  spec.access?.channelSecrets !== undefined;

function functionOf(name: string) {
  return main.stack.functions.get(name);
}
function lambdaOf(name: string): CfnResourceJson {
  return resourceOf(template, functionOf(name));
}

describe('OpenAiStatusStack: table', () => {
  const table = () => resourceOf(template, main.stack.table);

  it('uses the schema keys', () => {
    expect(table().Properties.KeySchema).toEqual(keySchema(TABLE.partitionKey, TABLE.sortKey));
    const expected = [TABLE.partitionKey, TABLE.sortKey].map((AttributeName) => ({
      AttributeName,
      AttributeType: KEY_ATTRIBUTE_TYPE,
    }));
    const actual = [...(table().Properties.AttributeDefinitions as { AttributeName: string }[])];
    expect(actual.sort(byName)).toEqual(expected.sort(byName));
  });

  it('is on-demand, encrypted, with TTL and point-in-time recovery', () => {
    expect(table().Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(table().Properties.ProvisionedThroughput).toBeUndefined();
  });

  it('has no secondary index (every query reads the table by key)', () => {
    expect(table().Properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('is retained with deletion protection by default', () => {
    expect(table().DeletionPolicy).toBe('Retain');
    expect(table().UpdateReplacePolicy).toBe('Retain');
    expect(table().Properties.DeletionProtectionEnabled).toBe(true);
  });
});

/** The TLS-only statement CDK's enforceSSL adds to a bucket policy. */
function expectTlsOnly(bucket: IConstruct) {
  template.hasResourceProperties('AWS::S3::BucketPolicy', {
    Bucket: ref(bucket),
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
}

const BLOCK_ALL = {
  BlockPublicAcls: true,
  BlockPublicPolicy: true,
  IgnorePublicAcls: true,
  RestrictPublicBuckets: true,
};
const SSE_S3 = {
  ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
};

describe('OpenAiStatusStack: artifacts bucket', () => {
  const bucket = () => resourceOf(template, main.stack.artifactsBucket);

  it('blocks public access and encrypts with S3-managed keys', () => {
    expect(bucket().Properties.PublicAccessBlockConfiguration).toEqual(BLOCK_ALL);
    expect(bucket().Properties.BucketEncryption).toEqual(SSE_S3);
    expect(bucket().Properties.VersioningConfiguration).toBeUndefined();
  });

  it('denies requests that are not over TLS', () => {
    expectTlsOnly(main.stack.artifactsBucket);
  });

  it('expires synthetic run screenshots, and nothing else', () => {
    expect(bucket().Properties.LifecycleConfiguration).toEqual({
      Rules: [{ ExpirationInDays: 30, Prefix: 'synthetics/', Status: 'Enabled' }],
    });
  });

  it('is retained by default, without auto-delete', () => {
    expect(bucket().DeletionPolicy).toBe('Retain');
    const autoDeleted = ofType('Custom::S3AutoDeleteObjects').map(([, r]) => r.Properties.BucketName);
    expect(autoDeleted).not.toContainEqual(ref(main.stack.artifactsBucket));
  });
});

describe('OpenAiStatusStack: web bucket and dashboard deployment', () => {
  const bucket = () => resourceOf(template, main.stack.web.bucket);

  it('is private, encrypted and TLS only', () => {
    expect(bucket().Properties.PublicAccessBlockConfiguration).toEqual(BLOCK_ALL);
    expect(bucket().Properties.BucketEncryption).toEqual(SSE_S3);
    expectTlsOnly(main.stack.web.bucket);
  });

  it('holds only build output, so it and its files go with the stack', () => {
    expect(bucket().DeletionPolicy).toBe('Delete');
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: ref(main.stack.web.bucket) });
  });

  it('is readable by this distribution only (Origin Access Control)', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(main.stack.web.bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('deploys the dashboard build and invalidates the distribution', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: ref(main.stack.web.bucket),
      DistributionId: ref(main.stack.web.distribution),
      DistributionPaths: ['/*'],
      Prune: true,
    });
  });
});

interface CacheBehavior {
  PathPattern: string;
  TargetOriginId: string;
  AllowedMethods: string[];
  CachePolicyId: unknown;
  OriginRequestPolicyId: string;
  ResponseHeadersPolicyId: unknown;
  ViewerProtocolPolicy: string;
}
interface DistributionConfig {
  DefaultRootObject: string;
  PriceClass: string;
  HttpVersion: string;
  DefaultCacheBehavior: Omit<CacheBehavior, 'PathPattern'> & { FunctionAssociations: unknown[] };
  CacheBehaviors: CacheBehavior[];
  Origins: { Id: string; DomainName: unknown; OriginAccessControlId?: unknown; S3OriginConfig?: unknown }[];
}
const distributionConfig = (t: Template, s: Synthesized) =>
  resourceOf(t, s.stack.web.distribution).Properties.DistributionConfig as DistributionConfig;

/** CloudFront path-pattern matching: `*` is any run of characters, `?` one. */
function matchesPattern(pattern: string, path: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(path);
}
const samplePath = (path: string) => path.replace(/\{[^}]+\}/g, 'x');

describe('OpenAiStatusStack: CloudFront', () => {
  const config = () => distributionConfig(template, main);
  const apiOriginId = () => {
    const origin = config().Origins.find((o) => JSON.stringify(o.DomainName).includes('.execute-api.'));
    expect(origin).toBeDefined();
    return origin?.Id;
  };

  it('serves the dashboard from the web bucket through Origin Access Control', () => {
    expect(config()).toMatchObject({
      DefaultRootObject: 'index.html',
      PriceClass: 'PriceClass_100',
      HttpVersion: 'http2and3',
    });
    const s3 = config().Origins.find((o) => o.S3OriginConfig);
    expect(s3).toMatchObject({
      DomainName: getAtt(main.stack.web.bucket, 'RegionalDomainName'),
      S3OriginConfig: { OriginAccessIdentity: '' },
      OriginAccessControlId: expect.anything(),
    });
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: {
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      },
    });
    expect(config().DefaultCacheBehavior).toMatchObject({
      TargetOriginId: s3?.Id,
      ViewerProtocolPolicy: 'redirect-to-https',
      CachePolicyId: CACHING_OPTIMIZED,
    });
  });

  it('rewrites client routes of the dashboard to /index.html, and only those', () => {
    const [fnId] = ofType('AWS::CloudFront::Function').map(([id]) => id);
    expect(config().DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } },
    ]);
    template.hasResourceProperties('AWS::CloudFront::Function', {
      FunctionCode: SPA_REWRITE_FUNCTION,
      FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }),
    });
    const handler = new Function(`${SPA_REWRITE_FUNCTION}; return handler;`)() as (event: {
      request: { uri: string };
    }) => { uri: string };
    const rewrite = (uri: string) => handler({ request: { uri } }).uri;
    expect(rewrite('/')).toBe('/index.html');
    expect(rewrite('/endpoints/chat')).toBe('/index.html');
    expect(rewrite('/assets/index-abc.js')).toBe('/assets/index-abc.js');
    expect(rewrite('/favicon.ico')).toBe('/favicon.ico');
  });

  it('sends each API path prefix of the route table to API Gateway, uncached unless the handler allows', () => {
    const patterns = apiPathPatterns(ROUTES);
    // The streaming routes' behaviours come first and go to their Function URL (tested below).
    const streamingPaths = ROUTES.filter((r) => r.streaming).map((r) => r.path);
    const behaviors = config().CacheBehaviors.filter((b) => !streamingPaths.includes(b.PathPattern));
    expect(behaviors.map((b) => b.PathPattern)).toEqual(patterns.map((p) => p.pattern));
    for (const [i, behavior] of behaviors.entries()) {
      const pattern = patterns[i];
      expect(behavior).toMatchObject({
        TargetOriginId: apiOriginId(),
        ViewerProtocolPolicy: 'https-only',
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
        ResponseHeadersPolicyId: ref(main.stack.web.node.findChild('SecurityHeaders')),
      });
      expect(behavior.CachePolicyId).toEqual(
        pattern?.cacheable ? ref(main.stack.web.node.findChild('ApiCache')) : CACHING_DISABLED,
      );
      expect(behavior.AllowedMethods).toContain(pattern?.writes ? 'POST' : 'GET');
    }
  });

  it('reaches every API route through some behaviour, and the first match is the API', () => {
    for (const route of ROUTES.filter((r) => !r.streaming)) {
      const first = config().CacheBehaviors.find((b) =>
        matchesPattern(b.PathPattern, samplePath(route.path)),
      );
      expect(first?.TargetOriginId, routeKey(route)).toBe(apiOriginId());
      expect(first?.AllowedMethods, routeKey(route)).toContain(route.method);
      if (route.method === 'GET') expect(first?.AllowedMethods, routeKey(route)).toContain('HEAD');
    }
    expect(config().CacheBehaviors.length).toBeLessThanOrEqual(MAX_CACHE_BEHAVIORS);
  });

  it('caches API answers only as long as the handler says, at most 60 s, keyed on the query', () => {
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        DefaultTTL: 0,
        MinTTL: 0,
        MaxTTL: 60,
        ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({
          QueryStringsConfig: { QueryStringBehavior: 'all' },
          HeadersConfig: { HeaderBehavior: 'none' },
          CookiesConfig: { CookieBehavior: 'none' },
        }),
      }),
    });
  });

  it('sends security headers on every behaviour', () => {
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: {
          StrictTransportSecurity: {
            AccessControlMaxAgeSec: 63_072_000,
            IncludeSubdomains: true,
            Override: true,
          },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
          ContentSecurityPolicy: { ContentSecurityPolicy: CONTENT_SECURITY_POLICY, Override: true },
        },
      }),
    });
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'self'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/frame-ancestors 'none'/);
    // The local gateway sends the same headers, from the same definition (all but HSTS over plain HTTP).
    expect(SECURITY_HEADERS.hsts.maxAgeSec).toBe(63_072_000);
    expect(PLAIN_HTTP_SECURITY_HEADERS).toEqual({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'strict-origin-when-cross-origin',
      'content-security-policy': CONTENT_SECURITY_POLICY,
    });
    const headers = ref(main.stack.web.node.findChild('SecurityHeaders'));
    expect(config().DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual(headers);
    for (const behavior of config().CacheBehaviors) expect(behavior.ResponseHeadersPolicyId).toEqual(headers);
  });
});

describe('apiPathPatterns', () => {
  const route = (method: RouteSpec['method'], path: string, auth: RouteSpec['auth'] = 'none'): RouteSpec => ({
    method,
    path,
    function: 'health',
    auth,
    streaming: false,
  });

  it('groups routes by first segment: the exact path and everything under it', () => {
    const patterns = apiPathPatterns([
      route('GET', '/traces'),
      route('GET', '/traces/{id}'),
      route('GET', '/traces/{id}/spans'),
      route('POST', '/ingest/trace', 'ingest'),
      route('GET', '/status'),
    ]);
    expect(patterns).toEqual([
      { pattern: '/ingest/*', writes: true, cacheable: false },
      { pattern: '/status', writes: false, cacheable: true },
      { pattern: '/traces', writes: false, cacheable: true },
      { pattern: '/traces/*', writes: false, cacheable: true },
    ]);
  });

  it('never caches routes that need the API key', () => {
    expect(apiPathPatterns([route('GET', '/logs', 'ingest')])).toEqual([
      { pattern: '/logs', writes: false, cacheable: false },
    ]);
  });

  it('refuses routes CloudFront cannot tell apart from the dashboard', () => {
    expect(() => apiPathPatterns([route('GET', '/{id}')])).toThrow(/first path segment must be a fixed name/);
    expect(() => apiPathPatterns([route('GET', '/assets/x')])).toThrow(/path of the dashboard/);
  });

  it('turns path parameters into wildcards', () => {
    expect(routePathPattern('/synthetics/{id}/run')).toBe('/synthetics/*/run');
  });

  it('stops synth when the routes need more behaviours than the CloudFront quota', () => {
    const routes = Array.from({ length: MAX_CACHE_BEHAVIORS + 1 }, (_, i) => route('GET', `/r${i}`));
    expect(() => synthStack({ routes })).toThrow(/over the default quota of 25/);
  });
});

describe('OpenAiStatusStack: HTTP API', () => {
  it('has exactly one route per (non-streaming) entry of the route table, a HEAD route per GET route, and no other', () => {
    const keys = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey as string);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(keys)).toEqual(new Set(apiRouteKeys(ROUTES)));
    expect(new Set(keys)).toEqual(new Set(Api.routeKeys(ROUTES)));
    // API Gateway matches methods exactly: without its own route, HEAD /status would be a 404.
    expect(keys).toEqual(expect.arrayContaining(['GET /status', 'HEAD /status', 'HEAD /health']));
    expect(keys).not.toContain('HEAD /ingest/trace');
  });

  it('integrates each route with its function (payload 2.0), without an authorizer', () => {
    for (const route of ROUTES.filter((r) => !r.streaming)) {
      for (const key of apiRouteKeys([route])) {
        const [, resource] =
          ofType('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === key) ?? [];
        expect(resource?.Properties.AuthorizationType, key).toBe('NONE');
        const target = JSON.stringify(resource?.Properties.Target);
        const [integrationId] =
          ofType('AWS::ApiGatewayV2::Integration').find(([id]) => target.includes(id)) ?? [];
        expect(integrationId, key).toBeDefined();
        expect(resources[integrationId as string]?.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: getAtt(functionOf(route.function), 'Arn'),
        });
      }
    }
  });

  it('throttles the default stage and keeps access logs for a month', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: API_THROTTLE.rateLimit,
        ThrottlingBurstLimit: API_THROTTLE.burstLimit,
      },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
  });
});

describe('OpenAiStatusStack: functions', () => {
  it('makes one Lambda per function spec', () => {
    expect([...main.stack.functions.byName.keys()]).toEqual(FUNCTIONS.map((f) => f.name));
    for (const spec of FUNCTIONS) expect(lambdaOf(spec.name).Type).toBe('AWS::Lambda::Function');
  });

  it.each(FUNCTIONS.map((f) => [f.name, f] as const))(
    '%s: Node 22 on arm64 (x86_64 when it starts a browser), sized by its spec',
    (name, spec) => {
      expect(lambdaOf(name).Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: [spec.browser ? 'x86_64' : 'arm64'],
        Handler: 'index.handler',
        MemorySize: spec.memoryMb,
        Timeout: spec.timeoutSec,
        Description: spec.description,
      });
    },
  );

  it.each(FUNCTIONS.map((f) => [f.name, f] as const))(
    '%s: logs to its own log group, kept a month',
    (name) => {
      const logging = lambdaOf(name).Properties.LoggingConfig as { LogGroup: { Ref: string } };
      const group = resources[logging.LogGroup.Ref];
      expect(group?.Type).toBe('AWS::Logs::LogGroup');
      expect(group?.Properties.RetentionInDays).toBe(FUNCTION_LOG_RETENTION);
      expect(FUNCTION_LOG_RETENTION).toBe(30);
    },
  );

  it.each(FUNCTIONS.map((f) => [f.name, f] as const))(
    '%s: configuration in the environment, secrets only by ARN',
    (name, spec) => {
      const env = (lambdaOf(name).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `openai-status-${name}`,
        TABLE_NAME: ref(main.stack.table),
        ARTIFACTS_BUCKET: ref(main.stack.artifactsBucket),
        PROBE_INTERVAL_SEC: '60',
        PROBE_MODE: 'roundrobin',
        SLO_TARGET: '99.5',
        RETENTION_DAYS: '30',
        LOG_LEVEL: 'INFO',
      });
      for (const variable of FUNCTION_VARIABLES) {
        const spec = VARIABLES.find((v) => v.name === variable);
        if (spec && 'default' in spec) expect(env[variable], variable).toBeDefined();
      }
      for (const secret of SECRET_VARIABLES) expect(env).not.toHaveProperty(secret);
      for (const local of [
        'ALARM_EMAIL',
        'DYNAMODB_ENDPOINT',
        'S3_ENDPOINT',
        'PORT',
        'DATA_DIR',
        'SIM_ERROR_RATE',
      ]) {
        expect(env).not.toHaveProperty(local);
      }
      if (needsSecrets(spec, ROUTES)) expect(env.SECRET_ARN).toEqual(ref(main.stack.secret));
      else expect(env).not.toHaveProperty('SECRET_ARN');
      if (spec.access?.cursorSecret) expect(env.CURSOR_SECRET_ARN).toEqual(ref(main.stack.cursorSecret));
      else expect(env).not.toHaveProperty('CURSOR_SECRET_ARN');
      if (spec.access?.channelSecrets)
        expect(env.ALERT_CHANNEL_SECRET_ARN).toEqual(ref(main.stack.channelSecret));
      else expect(env).not.toHaveProperty('ALERT_CHANNEL_SECRET_ARN');
    },
  );

  it('bundles each function as minified ESM chunks, each with a source map, and a metafile', () => {
    for (const spec of FUNCTIONS) {
      const dir = assetDir(main, functionOf(spec.name).node.defaultChild as CfnFunction);
      expect(existsSync(join(dir, METAFILE)), spec.name).toBe(true);
      const outputs = bundleOutputs(dir);
      expect(outputs.map((o) => o.file)).toContain(ENTRY_FILE);
      for (const { file } of outputs) {
        const code = readFileSync(join(dir, file), 'utf8');
        // Every chunk may hold CommonJS code that calls `require`: each gets the banner.
        expect(code.startsWith('import { createRequire as __createRequire }'), file).toBe(true);
        expect(code, file).toMatch(new RegExp(`//# sourceMappingURL=${file.replace('.', '\\.')}\\.map\\s*$`));
        expect(existsSync(join(dir, `${file}.map`)), file).toBe(true);
        // Minified: very long lines, few of them.
        expect(code.split('\n').length, file).toBeLessThan(200);
      }
    }
  });

  it('loads the openai SDK, the S3 client and the OTLP protobuf decoder on first use only, in the HTTP functions', () => {
    const atInit = (name: string) => {
      const dir = assetDir(main, functionOf(name).node.defaultChild as CfnFunction);
      return bundleOutputs(dir)
        .filter((o) => o.atInit)
        .flatMap((o) => Object.keys(o.inputs));
    };
    for (const spec of FUNCTIONS.filter((f) => ROUTES.some((r) => r.function === f.name))) {
      const inputs = atInit(spec.name);
      expect(
        inputs.filter((i) => i.includes('node_modules/openai/')),
        spec.name,
      ).toEqual([]);
      expect(
        inputs.filter((i) => i.includes('node_modules/@aws-sdk/client-s3/')),
        spec.name,
      ).toEqual([]);
      expect(
        inputs.filter((i) => i.includes('otlp-proto/')),
        spec.name,
      ).toEqual([]);
    }
  });

  it('keeps every HTTP function within 500 KB at init, and the scheduled ones within their ceilings', () => {
    const http = FUNCTIONS.filter((spec) => ROUTES.some((r) => r.function === spec.name));
    for (const spec of FUNCTIONS.filter((f) => !http.includes(f))) {
      const dir = assetDir(main, functionOf(spec.name).node.defaultChild as CfnFunction);
      const ceiling = SCHEDULED_BUNDLE_CEILINGS[spec.name];
      expect(ceiling, `${spec.name}: give it a ceiling in SCHEDULED_BUNDLE_CEILINGS`).toBeDefined();
      expect(bundleBytes(dir).atInit, `${spec.name}: grew past its ceiling`).toBeLessThanOrEqual(
        (ceiling ?? 0) * 1024,
      );
    }
    for (const spec of http) {
      const dir = assetDir(main, functionOf(spec.name).node.defaultChild as CfnFunction);
      const bytes = bundleBytes(dir).atInit;
      const ceiling = BUNDLE_CEILINGS_OVER_TARGET[spec.name];
      if (ceiling === undefined) {
        expect(
          bytes,
          `${spec.name}: over the 500 KB bundle target (bench/bundles.ts shows what weighs)`,
        ).toBeLessThanOrEqual(BUNDLE_TARGET_BYTES);
      } else {
        expect(bytes, `${spec.name}: grew past its ceiling`).toBeLessThanOrEqual(ceiling * 1024);
        expect(
          bytes,
          `${spec.name}: now within the target, take it off BUNDLE_CEILINGS_OVER_TARGET`,
        ).toBeGreaterThan(BUNDLE_TARGET_BYTES);
      }
    }
  });

  it('bundles the Secrets Manager client only into functions that read the secret', () => {
    for (const spec of FUNCTIONS) {
      const dir = assetDir(main, functionOf(spec.name).node.defaultChild as CfnFunction);
      const inputs = Object.keys(metafileInputs(dir));
      const hasSecretsClient = inputs.some((i) => i.includes('@aws-sdk/client-secrets-manager'));
      expect(hasSecretsClient, spec.name).toBe(readsASecret(spec));
    }
  });

  it('loads every bundle in a fresh Node 22 process (ESM, require banner, no network at load)', () => {
    const node = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
    const streamingFunctions = new Set(ROUTES.filter((r) => r.streaming).map((r) => r.function));
    for (const spec of FUNCTIONS) {
      const dir = assetDir(main, functionOf(spec.name).node.defaultChild as CfnFunction);
      const file = join(dir, ENTRY_FILE);
      // Then every chunk loaded on first use: each resolves its imports (other chunks, Node built-ins, shipped node_modules).
      const lazy = bundleOutputs(dir)
        .filter((o) => !o.atInit)
        .map((o) => `file://${join(dir, o.file)}`);
      const result = spawnSync(
        node,
        [
          '--input-type=module',
          '-e',
          // Lambda's Node runtime provides `awslambda` to streaming functions; a stand-in is enough to load one.
          `${streamingFunctions.has(spec.name) ? 'globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } }; ' : ''}const m = await import(${JSON.stringify(`file://${file}`)}); for (const chunk of ${JSON.stringify(lazy)}) await import(chunk); console.log(typeof m.handler);`,
        ],
        { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', LOG_LEVEL: 'SILENT' } },
      );
      expect(result.stderr, spec.name).toBe('');
      expect(result.stdout.trim(), spec.name).toBe('function');
    }
  }, 60_000);
});

function assetDir(s: Synthesized, fn: CfnFunction): string {
  const code = s.stack.resolve(fn.code) as { s3Key: string };
  const dir = join(s.app.outdir, `asset.${code.s3Key.replace(/\.zip$/, '')}`);
  expect(existsSync(dir)).toBe(true);
  return dir;
}

/** The source files bundled into any of a function's chunks. */
function metafileInputs(dir: string): Record<string, unknown> {
  return Object.assign({}, ...bundleOutputs(dir).map((o) => o.inputs));
}

describe('OpenAiStatusStack: secrets', () => {
  it('creates one JSON secret holding the API keys, with a generated ingest key', () => {
    const secret = resourceOf(template, main.stack.secret);
    const generate = secret.Properties.GenerateSecretString as {
      SecretStringTemplate: string;
      GenerateStringKey: string;
    };
    expect(generate.GenerateStringKey).toBe(GENERATED_SECRET_KEY);
    const placeholders = JSON.parse(generate.SecretStringTemplate) as Record<string, string>;
    expect(Object.keys(placeholders).sort()).toEqual(
      SECRET_VARIABLES.filter((n) => n !== GENERATED_SECRET_KEY && n !== CURSOR_SECRET_KEY).sort(),
    );
    for (const value of Object.values(placeholders)) expect(value).toBe(SECRET_PLACEHOLDER);
    expect(secret.DeletionPolicy).toBe('Retain');
  });

  it('generates CURSOR_SECRET at creation, in a JSON secret of its own, never derived', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    const secret = resourceOf(template, main.stack.cursorSecret);
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: '{}',
      GenerateStringKey: CURSOR_SECRET_KEY,
      ExcludePunctuation: true,
      PasswordLength: 64,
    });
    expect(CURSOR_SECRET_KEY).toBe('CURSOR_SECRET');
    expect(SECRET_VARIABLES).toContain(CURSOR_SECRET_KEY);
    expect(secret.DeletionPolicy).toBe('Retain');
    // Only the functions that sign with it: /traces cursors, synthetic screenshot links.
    const holders = FUNCTIONS.filter((f) => {
      const env = (lambdaOf(f.name).Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      return env.CURSOR_SECRET_ARN !== undefined;
    }).map((f) => f.name);
    expect(holders).toEqual(['traces', 'synthetics', 'synthetic_run']);
  });

  it("keeps the alert channels' secrets in one secret of their own, starting empty, for the two alert functions", () => {
    const secret = resourceOf(template, main.stack.channelSecret);
    expect(secret.Properties.SecretString).toBe('{}');
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
    expect(secret.DeletionPolicy).toBe('Retain');
    const holders = FUNCTIONS.filter((f) => {
      const env = (lambdaOf(f.name).Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      return env.ALERT_CHANNEL_SECRET_ARN !== undefined;
    }).map((f) => f.name);
    expect(holders).toEqual(['alerts', 'alerts_eval']);
    // The API function reads and puts it, and nothing more; the evaluator only reads it.
    const onChannelSecret = (name: string) =>
      actionsOf(
        statementsOf(
          (lambdaOf(name).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
        ).filter((s) => JSON.stringify(s.Resource).includes(logicalId(main.stack.channelSecret))),
      ).sort();
    expect(onChannelSecret('alerts')).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
    ]);
    expect(onChannelSecret('alerts_eval')).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    for (const f of FUNCTIONS.filter((f) => !['alerts', 'alerts_eval'].includes(f.name)))
      expect(onChannelSecret(f.name), f.name).toEqual([]);
    // No function may create, delete or re-stage secrets: the stack owns them.
    const all = actionsOf(
      ofType('AWS::IAM::Policy').flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
      ),
    );
    for (const action of ['CreateSecret', 'DeleteSecret', 'UpdateSecret', 'UpdateSecretVersionStage'])
      expect(all).not.toContain(`secretsmanager:${action}`);
  });

  it('never writes a secret value into the template (environment, outputs or anywhere)', () => {
    const text = JSON.stringify(template.toJSON());
    for (const value of Object.values(SECRET_SENTINELS)) expect(text).not.toContain(value);
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      for (const secret of SECRET_VARIABLES) expect(env ?? {}).not.toHaveProperty(secret);
    }
    const outputs = JSON.stringify(template.toJSON().Outputs);
    expect(outputs).not.toMatch(/SecretString|GetSecretValue|resolve:secretsmanager/);
  });
});

describe('OpenAiStatusStack: least privilege', () => {
  const roleOf = (name: string) => {
    const role = (lambdaOf(name).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return role;
  };

  it('has no IAM statement with a `*` or `service:*` action', () => {
    const statements = ofType('AWS::IAM::Policy').flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const roleInline = ofType('AWS::IAM::Role').flatMap(([, r]) =>
      ((r.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []).flatMap(
        (p) => p.PolicyDocument.Statement,
      ),
    );
    const actions = actionsOf([...statements, ...roleInline].filter((s) => s.Effect === 'Allow'));
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      expect(action).not.toBe('*');
      expect(action).not.toMatch(/^[a-z0-9-]+:\*$/i);
    }
  });

  it('gives each function its own role, with no managed policies', () => {
    const roles = FUNCTIONS.map((f) => roleOf(f.name));
    expect(new Set(roles).size).toBe(FUNCTIONS.length);
    for (const role of roles) expect(resources[role]?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it.each(FUNCTIONS.map((f) => [f.name, f] as const))('%s: only what its spec declares', (name, spec) => {
    const statements = statementsOf(roleOf(name));
    const actions = actionsOf(statements);
    const expectAll = (list: string[], present: boolean) => {
      for (const a of list) (present ? expect(actions) : expect(actions).not).toContain(a);
    };
    expect(actions).toEqual(expect.arrayContaining(['logs:CreateLogStream', 'logs:PutLogEvents']));
    const access: FunctionSpec['access'] = spec.access ?? {};
    expectAll(['dynamodb:Query', 'dynamodb:GetItem'], access.table !== undefined);
    expectAll(
      ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      access.table === 'readWrite',
    );
    if (access.table === 'read') expect(actions).toContain('dynamodb:DescribeTable');
    expectAll(['s3:GetObject*', 's3:List*'], access.artifacts !== undefined);
    expectAll(['s3:PutObject', 's3:DeleteObject*'], access.artifacts === 'readWrite');
    expectAll(['secretsmanager:GetSecretValue'], readsASecret(spec));
    // Each secret only to the functions that need it: the cursor key to /traces, the API keys elsewhere.
    const secretsRead = statements
      .filter((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue'))
      .map((s) => JSON.stringify(s.Resource));
    expect(
      secretsRead.some((r) => r.includes(logicalId(main.stack.secret))),
      name,
    ).toBe(needsSecrets(spec, ROUTES));
    expect(
      secretsRead.some((r) => r.includes(logicalId(main.stack.cursorSecret))),
      name,
    ).toBe(spec.access?.cursorSecret === true);
    // Every statement names this stack's resources; none is open to all resources.
    for (const s of statements) expect(s.Resource, JSON.stringify(s)).not.toBe('*');
  });

  it('lets health describe the table and head the bucket, as /health does', () => {
    const actions = actionsOf(statementsOf(roleOf('health')));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:DescribeTable', 's3:List*', 's3:GetBucket*']));
  });
});

describe('OpenAiStatusStack: schedules', () => {
  const scheduled = FUNCTIONS.filter((f) => f.schedule);

  it('has one schedule per scheduled function, at its configured rate, never retried', () => {
    expect(scheduled.map((f) => f.name)).toContain('probe');
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(scheduled.length);
    for (const spec of scheduled) {
      const [, schedule] =
        schedules.find(([, s]) =>
          JSON.stringify(s.Properties.Target).includes(logicalId(functionOf(spec.name))),
        ) ?? [];
      expect(schedule?.Properties, spec.name).toMatchObject({
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: getAtt(functionOf(spec.name), 'Arn'),
          RetryPolicy: { MaximumRetryAttempts: 0 },
        },
      });
    }
  });

  it('sends an EventBridge scheduled event with the scheduled time of the tick', () => {
    const [[, schedule] = []] = ofType('AWS::Scheduler::Schedule');
    const input = JSON.stringify(schedule?.Properties.Target);
    expect(input).toContain('<aws.scheduler.scheduled-time>');
    expect(input).toContain('Scheduled Event');
  });

  it('refuses intervals EventBridge cannot run, before bundling anything', () => {
    expect(() => synthStack({ config: { PROBE_INTERVAL_SEC: '30' } })).toThrow(
      'PROBE_INTERVAL_SEC=30: EventBridge schedules run at most once a minute; use 60 or more in the cloud (shorter intervals work locally)',
    );
    expect(() => synthStack({ config: { PROBE_INTERVAL_SEC: '90' } })).toThrow(/use a multiple of 60/);
  });

  it('refuses a bad configuration value with the config module’s message', () => {
    expect(() => synthStack({ config: { PROBE_MODE: 'sometimes' } })).toThrow(
      'Invalid PROBE_MODE="sometimes": expected roundrobin or all',
    );
    expect(() => synthStack({ config: { ALARM_EMAIL: 'not-an-address' } })).toThrow(/Invalid ALARM_EMAIL/);
  });
});

describe('OpenAiStatusStack: alarms', () => {
  const alarms = () => ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const config = cloudConfig({}).config;

  it('sends every alarm (and its recovery) to one topic, with no subscription by default', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const topic = ref(main.stack.alarms.topic);
    expect(alarms().length).toBe(
      config.probeEndpoints.length + FUNCTIONS.length + FUNCTIONS.filter((f) => f.schedule).length,
    );
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
  });

  it('watches the probe failure rate of each configured endpoint', () => {
    const period = probeAlarmPeriodSec(config);
    expect(period).toBe(1800); // 9 endpoints in round robin every 60 s: 3 probes each per 30 min
    for (const endpoint of config.probeEndpoints) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: `${PROBE_METRIC.namespace}/Test`,
        MetricName: PROBE_METRIC.name,
        // Exactly the dimensions the EMF documents carry (Powertools adds `service`).
        Dimensions: [
          { Name: PROBE_METRIC.dimension, Value: endpoint },
          { Name: 'service', Value: PROBE_METRIC.service },
        ],
        Statistic: 'Average',
        Period: period,
        Threshold: PROBE_FAILURE_ALARM_RATE,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    const env = (lambdaOf('probe').Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(env.PROBE_METRICS_NAMESPACE).toBe(`${PROBE_METRIC.namespace}/Test`);
  });

  it('watches the errors of every function, and that scheduled functions keep running', () => {
    for (const spec of FUNCTIONS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: ref(functionOf(spec.name)) }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: ref(functionOf('probe')) }],
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      Period: 900,
    });
  });

  it('sizes the failure-rate period to the probing rate', () => {
    const c = (env: Record<string, string>) => probeAlarmPeriodSec(cloudConfig(env).config);
    expect(c({ PROBE_MODE: 'all' })).toBe(300);
    expect(c({ PROBE_MODE: 'all', PROBE_INTERVAL_SEC: '600' })).toBe(1800);
    expect(c({ PROBE_ENDPOINTS: 'chat,models' })).toBe(600);
    expect(c({ PROBE_INTERVAL_SEC: '86400' })).toBe(86_400);
  });
});

describe('OpenAiStatusStack: outputs', () => {
  it('outputs the dashboard and API URLs, the secret ARN and the storage names', () => {
    template.hasOutput('DashboardUrl', {
      Value: { 'Fn::Join': ['', ['https://', getAtt(main.stack.web.distribution, 'DomainName')]] },
    });
    template.hasOutput('ApiUrl', { Value: getAtt(main.stack.api.httpApi, 'ApiEndpoint') });
    template.hasOutput('SecretArn', { Value: ref(main.stack.secret) });
    template.hasOutput('AlertChannelSecretArn', { Value: ref(main.stack.channelSecret) });
    template.hasOutput('AlarmTopicArn', { Value: ref(main.stack.alarms.topic) });
    template.hasOutput('TableName', { Value: ref(main.stack.table) });
    template.hasOutput('ArtifactsBucketName', { Value: ref(main.stack.artifactsBucket) });
  });
});

describe('OpenAiStatusStack: cdk-nag AwsSolutions', () => {
  it('passes, every finding fixed or acknowledged', () => {
    const report = new AwsSolutionsChecks(main.app, { verbose: true }).validateScope(main.app);
    const open = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(open).toEqual([]);
  });

  it('gives every acknowledgement a one-line reason', () => {
    const reasons: [string, unknown][] = [];
    const visit = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, value] of Object.entries(entry.data as Record<string, unknown>))
            reasons.push([id, value]);
        }
      }
      for (const child of node.node.children) visit(child);
    };
    visit(main.stack);
    expect(reasons.length).toBeGreaterThan(0);
    for (const [id, value] of reasons) {
      const reason = typeof value === 'string' ? value : (value as { reason?: string }).reason;
      expect(typeof reason, id).toBe('string');
      expect(reason?.length, id).toBeGreaterThan(10);
      expect(reason, id).not.toContain('\n');
    }
  });
});

describe('OpenAiStatusStack: streaming routes (the chat stream)', () => {
  const streamingRoute = ROUTES.find((r) => r.streaming) as RouteSpec;
  const routes: readonly RouteSpec[] = ROUTES;
  let s: Synthesized;
  beforeAll(() => {
    s = synthStack({ routes });
  });

  it('is the POST /ai/chat/stream route of the real route table', () => {
    expect(streamingRoute).toMatchObject({ method: 'POST', path: '/ai/chat/stream', function: 'ai_stream' });
  });

  it('gives the streaming function a Function URL in RESPONSE_STREAM mode, IAM auth', () => {
    s.template.resourceCountIs('AWS::Lambda::Url', 1);
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: getAtt(s.stack.functions.get('ai_stream'), 'Arn'),
    });
  });

  it('routes the streaming path to the Function URL through Origin Access Control, before the API prefix', () => {
    const config = distributionConfig(s.template, s);
    const patterns = config.CacheBehaviors.map((b) => b.PathPattern);
    expect(patterns.indexOf('/ai/chat/stream')).toBeGreaterThanOrEqual(0);
    expect(patterns.indexOf('/ai/chat/stream')).toBeLessThan(patterns.indexOf('/ai/*'));
    const behavior = config.CacheBehaviors.find((b) => b.PathPattern === '/ai/chat/stream');
    const origin = config.Origins.find((o) => o.Id === behavior?.TargetOriginId);
    const [urlId] = Object.keys(s.template.findResources('AWS::Lambda::Url'));
    expect(JSON.stringify(origin?.DomainName)).toContain(`"${urlId}","FunctionUrl"`);
    expect(origin?.OriginAccessControlId).toBeDefined();
    expect(behavior).toMatchObject({
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
    });
    expect(behavior?.AllowedMethods).toContain('POST');
    s.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 'lambda' }),
    });
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: 'cloudfront.amazonaws.com',
    });
  });

  it('keeps the streaming route off the HTTP API, and every route reachable on the one origin', () => {
    const keys = s.template.findResources('AWS::ApiGatewayV2::Route');
    const routeKeys = Object.values(keys).map((r) => (r as CfnResourceJson).Properties.RouteKey);
    expect(routeKeys).not.toContain(routeKey(streamingRoute));
    expect(new Set(routeKeys)).toEqual(new Set(apiRouteKeys(routes)));
    const behaviors = distributionConfig(s.template, s).CacheBehaviors;
    for (const route of routes) {
      expect(
        behaviors.some((b) => matchesPattern(b.PathPattern, samplePath(route.path))),
        routeKey(route),
      ).toBe(true);
    }
  });

  it('gives the streaming function the secret (OpenAI key for the model, ingest key for callers)', () => {
    const env = (
      resourceOf(s.template, s.stack.functions.get('ai_stream')).Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env.SECRET_ARN).toEqual({ Ref: logicalId(s.stack.secret) });
  });

  it('passes cdk-nag too', () => {
    const report = new AwsSolutionsChecks(s.app).validateScope(s.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('OpenAiStatusStack: configured variant', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthStack({
      removalPolicy: RemovalPolicy.DESTROY,
      config: {
        ALARM_EMAIL: 'oncall@example.com',
        PROBE_INTERVAL_SEC: '120',
        PROBE_MODE: 'all',
        PROBE_ENDPOINTS: 'chat,models',
        PROBE_REGION: 'eu-west-1',
        LOG_LEVEL: 'debug',
      },
    });
  });

  it('subscribes ALARM_EMAIL to the alarm topic', () => {
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: logicalId(s.stack.alarms.topic) },
    });
  });

  it('schedules and alarms at the configured rate, for the configured endpoints', () => {
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(2 minutes)' });
    const endpoints = Object.values(s.template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => (a as CfnResourceJson).Properties)
      .filter((p) => p.MetricName === PROBE_METRIC.name)
      .map((p) => (p.Dimensions as { Value: string }[])[0]?.Value);
    expect(endpoints).toEqual(['chat', 'models']);
  });

  it('passes the configuration to the functions as given', () => {
    const env = (
      resourceOf(s.template, s.stack.functions.get('probe')).Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env).toMatchObject({
      PROBE_INTERVAL_SEC: '120',
      PROBE_MODE: 'all',
      PROBE_ENDPOINTS: 'chat,models',
      PROBE_REGION: 'eu-west-1',
      LOG_LEVEL: 'debug',
    });
    expect(env).not.toHaveProperty('ALARM_EMAIL');
  });

  it('deletes the table (no deletion protection), the bucket and its objects', () => {
    const table = resourceOf(s.template, s.stack.table);
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    expect(resourceOf(s.template, s.stack.artifactsBucket).DeletionPolicy).toBe('Delete');
    s.template.hasResourceProperties('Custom::S3AutoDeleteObjects', {
      BucketName: { Ref: logicalId(s.stack.artifactsBucket) },
    });
  });

  it('keeps deletion protection when asked explicitly', () => {
    const t = synthStack({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true });
    expect(resourceOf(t.template, t.stack.table).Properties.DeletionProtectionEnabled).toBe(true);
  });
});

describe('cloudConfig', () => {
  it('lets a deployment set every non-secret product variable, and not the local ones', () => {
    expect(CLOUD_VARIABLES).toEqual(
      expect.arrayContaining(['PROBE_INTERVAL_SEC', 'PROBE_REGION', 'ALARM_EMAIL']),
    );
    for (const name of [
      ...SECRET_VARIABLES,
      'PORT',
      'DATA_DIR',
      'DYNAMODB_ENDPOINT',
      'TABLE_NAME',
      'SIM_LATENCY',
    ]) {
      expect(CLOUD_VARIABLES).not.toContain(name);
    }
    expect(FUNCTION_VARIABLES).not.toContain('ALARM_EMAIL');
    expect(SECRET_VARIABLES).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'INGEST_API_KEY']));
  });

  it('validates the variables at synth', () => {
    expect(() => cloudConfig({ LOG_SIM_INTERVAL_MS: '10' })).toThrow('LOG_SIM_INTERVAL_MS');
    expect(cloudConfig({ LOG_SIM_ENABLED: '1' }).environment).toHaveProperty('LOG_SIM_ENABLED', '1');
  });

  it('ignores secret and local values it is given', () => {
    const { config, environment } = cloudConfig({
      OPENAI_API_KEY: 'sk-x',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:1',
      PROBE_REGION: ' ap-south-1 ',
    });
    expect(config.openaiApiKey).toBeUndefined();
    expect(config.dynamodbEndpoint).toBeUndefined();
    expect(environment.PROBE_REGION).toBe('ap-south-1');
    expect(environment).not.toHaveProperty('OPENAI_API_KEY');
  });
});

describe('stackPropsFromContext', () => {
  const props = (context: Record<string, unknown>, env: Record<string, string> = {}) =>
    stackPropsFromContext(new App({ context }).node, env);

  it('defaults', () => {
    expect(props({})).toEqual({
      stackName: 'openai-status',
      removalPolicy: undefined,
      deletionProtection: undefined,
      config: {},
    });
  });

  it('parses -c strings and cdk.json booleans', () => {
    expect(props({ stackName: 'dev', removalPolicy: 'destroy', deletionProtection: 'false' })).toMatchObject({
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

  it('reads the configuration from the environment, with context on top, never secrets', () => {
    const { config } = props(
      { PROBE_INTERVAL_SEC: 300, ALARM_EMAIL: 'ops@example.com' },
      { PROBE_INTERVAL_SEC: '120', PROBE_REGION: 'eu-west-1', OPENAI_API_KEY: 'sk-env', PORT: '1' },
    );
    expect(config).toEqual({
      PROBE_INTERVAL_SEC: '300',
      PROBE_REGION: 'eu-west-1',
      ALARM_EMAIL: 'ops@example.com',
    });
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
