import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { FunctionSpec, RouteSpec } from '../../shared/routes.js';
import { PROBE_METRIC } from '../../shared/telemetry/probe-metrics.js';
import { acknowledge, arnFinding } from '../nag.js';
import { splitBundleCode } from './bundling.js';

/** Repository root: entries, the lock file and tsconfig are found from here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** How long function logs are kept. */
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;

/**
 * Credential providers Lambda never reaches: the SDK's default chain finds the
 * role's credentials in the environment first, and only imports these (lazily)
 * when that fails. Leaving them out of the bundle saves ~90 KB per function.
 */
const UNUSED_IN_LAMBDA = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

/**
 * shared/secrets.ts imports shared/secrets-client.ts (and through it the
 * Secrets Manager client) on first use, and only with SECRET_ARN or
 * CURSOR_SECRET_ARN set: functions without a secret leave that import
 * unbundled (it never runs there), so neither is in their bundle. The module,
 * not the SDK package, is left out: its static import of the SDK would
 * otherwise become a top-level import of a package the function does not ship.
 */
const SECRETS_MODULES = ['*/secrets-client.js'];

/**
 * Shipped as installed packages next to the bundle of a function that starts
 * a browser: @sparticuz/chromium's compressed Chromium (`bin/*.br`) is read
 * from its package folder, and playwright-core resolves its own files at run time.
 */
export const BROWSER_NODE_MODULES = ['@sparticuz/chromium', 'playwright-core'];

export interface FunctionsProps {
  readonly functions: readonly FunctionSpec[];
  readonly routes: readonly RouteSpec[];
  /** Configuration variables every function gets (non-secret). */
  readonly environment: Readonly<Record<string, string>>;
  readonly table: ITable;
  readonly artifactsBucket: IBucket;
  readonly secret: ISecret;
  /** Holds CURSOR_SECRET (generated): for functions whose spec says `cursorSecret`. */
  readonly cursorSecret: ISecret;
  /** Holds the alert channels' secrets: for functions whose spec says `channelSecrets`. */
  readonly channelSecret: ISecret;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * One Lambda per function spec, each with its own role and log group and
 * only the grants its spec declares (`access`), plus the secret for functions
 * that serve routes needing the ingest key, and the cursor secret for those
 * that sign `/traces` cursors.
 */
export class Functions extends Construct {
  readonly byName: ReadonlyMap<string, LambdaFunction>;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const byName = new Map<string, LambdaFunction>();
    const stackName = Stack.of(this).stackName;

    for (const spec of props.functions) {
      const entry = join(PROJECT_ROOT, 'functions', spec.name, 'handler.ts');
      if (!existsSync(entry))
        throw new Error(`Function "${spec.name}": no handler at functions/${spec.name}/handler.ts`);
      const withSecrets = needsSecrets(spec, props.routes);
      const withCursorSecret = spec.access?.cursorSecret === true;
      const channelSecrets = spec.access?.channelSecrets;

      const logGroup = new LogGroup(this, `${spec.name}Logs`, {
        retention: FUNCTION_LOG_RETENTION,
        removalPolicy: props.removalPolicy,
      });
      const role = new Role(this, `${spec.name}Role`, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `openai-status ${spec.name} function`,
      });
      // Instead of the AWSLambdaBasicExecutionRole managed policy: write to its own log group only.
      logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');

      const fn = new LambdaFunction(this, spec.name, {
        code: splitBundleCode({
          entry,
          projectRoot: PROJECT_ROOT,
          externals: [
            ...UNUSED_IN_LAMBDA,
            ...(withSecrets || withCursorSecret || channelSecrets !== undefined ? [] : SECRETS_MODULES),
          ],
          ...(spec.browser ? { nodeModules: BROWSER_NODE_MODULES } : {}),
        }),
        // index.mjs (ENTRY_FILE), export `handler`.
        handler: 'index.handler',
        description: spec.description,
        runtime: Runtime.NODEJS_22_X,
        // @sparticuz/chromium ships an x86_64 Chromium only.
        architecture: spec.browser ? Architecture.X86_64 : Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSec),
        role,
        logGroup,
        environment: {
          ...props.environment,
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: `openai-status-${spec.name}`,
          TABLE_NAME: props.table.tableName,
          ARTIFACTS_BUCKET: props.artifactsBucket.bucketName,
          ...(withSecrets ? { SECRET_ARN: props.secret.secretArn } : {}),
          ...(withCursorSecret ? { CURSOR_SECRET_ARN: props.cursorSecret.secretArn } : {}),
          ...(channelSecrets ? { ALERT_CHANNEL_SECRET_ARN: props.channelSecret.secretArn } : {}),
          ...(spec.schedule === 'probeIntervalSec'
            ? { PROBE_METRICS_NAMESPACE: `${PROBE_METRIC.namespace}/${stackName}` }
            : {}),
        },
      });

      const access = spec.access ?? {};
      if (access.table === 'read') {
        props.table.grantReadData(fn);
        props.table.grant(fn, 'dynamodb:DescribeTable');
      } else if (access.table === 'readWrite') {
        props.table.grantReadWriteData(fn);
      }
      if (access.artifacts === 'read') props.artifactsBucket.grantRead(fn);
      else if (access.artifacts === 'readWrite') props.artifactsBucket.grantReadWrite(fn);
      if (withSecrets) props.secret.grantRead(fn);
      if (withCursorSecret) props.cursorSecret.grantRead(fn);
      if (channelSecrets) props.channelSecret.grantRead(fn);
      // PutSecretValue alone (grantWrite would add UpdateSecret and UpdateSecretVersionStage), on this secret alone.
      if (channelSecrets === 'readWrite')
        Grant.addToPrincipal({
          grantee: fn,
          actions: ['secretsmanager:PutSecretValue'],
          resourceArns: [props.channelSecret.secretArn],
        });

      acknowledgeGrantWildcards(role, spec, props);
      byName.set(spec.name, fn);
    }
    this.byName = byName;
  }

  get(name: string): LambdaFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new Error(`No function "${name}"`);
    return fn;
  }
}

/** The function reads the secret: it says so, or it serves a route that needs the ingest key. */
export function needsSecrets(spec: FunctionSpec, routes: readonly RouteSpec[]): boolean {
  return spec.access?.secrets === true || routes.some((r) => r.function === spec.name && r.auth !== 'none');
}

/**
 * The grant methods scope every statement to this stack's table, bucket,
 * secret and log group, but some of their actions and resources end in `*`
 * (action families, object keys, index ARNs): acknowledged one by one.
 */
function acknowledgeGrantWildcards(role: Role, spec: FunctionSpec, props: FunctionsProps): void {
  const policy = role.node.tryFindChild('DefaultPolicy');
  const access = spec.access ?? {};
  if (!policy) return;
  const findings: [string, string][] = [];
  if (access.artifacts) {
    findings.push(
      ['Action::s3:GetObject*', 'grantRead: GetObject and its variants (version, tags) on this bucket only'],
      [
        'Action::s3:GetBucket*',
        'grantRead: bucket metadata reads (HeadBucket, location) on this bucket only',
      ],
      ['Action::s3:List*', 'grantRead: listing this bucket only'],
      [arnFinding(props.artifactsBucket, '/*'), 'objects of the artifacts bucket; the keys are data'],
    );
  }
  if (access.artifacts === 'readWrite') {
    findings.push(
      ['Action::s3:DeleteObject*', 'grantReadWrite: deleting objects in this bucket only'],
      ['Action::s3:Abort*', 'grantReadWrite: aborting multipart uploads in this bucket only'],
    );
  }
  if (access.table)
    findings.push([arnFinding(props.table, '/index/*'), "the table's GSIs (shared/schema.ts)"]);
  acknowledge(
    policy,
    findings.map(([finding, reason]) => [`AwsSolutions-IAM5[${finding}]`, `${spec.name}: ${reason}`]),
  );
}
