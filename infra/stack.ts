import { join } from 'node:path';
import { CfnOutput, DefaultStackSynthesizer, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, Node } from 'constructs';
import { FUNCTIONS, type FunctionSpec, ROUTES, type RouteSpec } from '../shared/routes.js';
import { SECRET_PLACEHOLDER } from '../shared/secrets.js';
import { PROBE_METRIC } from '../shared/telemetry/probe-metrics.js';
import {
  type CloudConfig,
  cloudConfig,
  rawConfigFromContext,
  SECRET_VARIABLES,
  scheduleRateSec,
} from './cloud-config.js';
import { Alarms } from './constructs/alarms.js';
import { Api } from './constructs/api.js';
import { Functions, PROJECT_ROOT } from './constructs/functions.js';
import { Schedules } from './constructs/schedules.js';
import { Storage } from './constructs/storage.js';
import { Web } from './constructs/web.js';
import { acknowledge, arnFinding } from './nag.js';

export const DEFAULT_STACK_NAME = 'openai-status';

/** The secret key the stack fills with a random value at creation (the others start as the placeholder). */
export const GENERATED_SECRET_KEY = 'INGEST_API_KEY';

export interface OpenAiStatusStackProps extends StackProps {
  /** Table and bucket removal policy. Default RETAIN. */
  readonly removalPolicy?: RemovalPolicy;
  /** DynamoDB deletion protection. Default: on, unless `removalPolicy` is DESTROY. */
  readonly deletionProtection?: boolean;
  /**
   * Configuration variables by name (PROBE_INTERVAL_SEC, ALARM_EMAIL, …), validated by
   * shared/config.ts. Default: all defaults. Secret variables are ignored.
   */
  readonly config?: Readonly<Record<string, string | undefined>>;
  /** The function table. Default: shared/routes.ts FUNCTIONS. */
  readonly functions?: readonly FunctionSpec[];
  /** The route table. Default: shared/routes.ts ROUTES. */
  readonly routes?: readonly RouteSpec[];
  /** The built dashboard. Default: web/dist. */
  readonly webAssetPath?: string;
}

/**
 * The whole product in one stack, every part generated from the shared tables:
 * storage from the schema, a Lambda per function spec, an HTTP API route per
 * route, a schedule per scheduled function, and CloudFront serving the
 * dashboard and the API on one origin.
 */
export class OpenAiStatusStack extends Stack {
  readonly table: Table;
  readonly artifactsBucket: Bucket;
  readonly cloud: CloudConfig;
  readonly functions: Functions;
  readonly api: Api;
  readonly web: Web;
  readonly schedules: Schedules;
  readonly alarms: Alarms;
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: OpenAiStatusStackProps = {}) {
    super(scope, id, {
      description: 'OpenAI API status and observability backend',
      ...props,
    });

    // Validate the configuration before building anything: a bad value stops synth with one line.
    this.cloud = cloudConfig(props.config);
    const { config } = this.cloud;
    const functionSpecs = props.functions ?? FUNCTIONS;
    const routes = props.routes ?? ROUTES;
    checkTables(functionSpecs, routes);
    // Refuse schedules EventBridge cannot run before any bundling starts.
    for (const spec of functionSpecs) if (spec.schedule) scheduleRateSec(spec, config);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deletionProtection = props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY;

    const storage = new Storage(this, 'Storage', { removalPolicy, deletionProtection });
    this.table = storage.table;
    this.artifactsBucket = storage.artifactsBucket;
    acknowledge(this.artifactsBucket, [
      [
        'AwsSolutions-S1',
        'Objects are written only by the functions, whose logs record it; access logs would cost more',
      ],
    ]);

    this.secret = new Secret(this, 'Secret', {
      description: `openai-status secrets as JSON (${SECRET_VARIABLES.join(', ')}); set with aws secretsmanager put-secret-value`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify(
          Object.fromEntries(
            SECRET_VARIABLES.filter((name) => name !== GENERATED_SECRET_KEY).map((name) => [
              name,
              SECRET_PLACEHOLDER,
            ]),
          ),
        ),
        generateStringKey: GENERATED_SECRET_KEY,
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy,
    });
    acknowledge(this.secret, [
      [
        'AwsSolutions-SMG4',
        'Third-party API keys: rotated by the owner at OpenAI, then put-secret-value (README)',
      ],
    ]);

    this.functions = new Functions(this, 'Functions', {
      functions: functionSpecs,
      routes,
      environment: this.cloud.environment,
      table: this.table,
      artifactsBucket: this.artifactsBucket,
      secret: this.secret,
      removalPolicy,
    });
    const functionOf = (name: string) => this.functions.get(name);
    acknowledge(this.functions, [
      [
        'AwsSolutions-L1',
        'Node.js 22 pinned on purpose: the local runtime (node dev dependency) is 22, and 22 is supported',
      ],
    ]);

    this.api = new Api(this, 'Api', { routes, functionOf, removalPolicy });
    this.web = new Web(this, 'Web', {
      routes,
      httpApi: this.api.httpApi,
      functionOf,
      webAssetPath: props.webAssetPath ?? join(PROJECT_ROOT, 'web', 'dist'),
    });
    this.schedules = new Schedules(this, 'Schedules', { functions: functionSpecs, functionOf, config });
    this.alarms = new Alarms(this, 'Alarms', {
      functions: functionSpecs,
      functionOf,
      config,
      scheduleRates: new Map([...this.schedules.byFunction].map(([name, { rateSec }]) => [name, rateSec])),
      probeNamespace: `${PROBE_METRIC.namespace}/${this.stackName}`,
    });
    acknowledgeCdkHelpers(this);

    new CfnOutput(this, 'DashboardUrl', {
      value: this.web.url,
      description: 'The dashboard; the API is on the same origin',
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'The HTTP API, direct' });
    new CfnOutput(this, 'SecretArn', {
      value: this.secret.secretArn,
      description: 'Put OPENAI_API_KEY (and the other keys) here: aws secretsmanager put-secret-value',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.artifactsBucket.bucketName });
  }
}

/** Every route names a function of the table; function names are unique. */
function checkTables(functions: readonly FunctionSpec[], routes: readonly RouteSpec[]): void {
  const names = new Set<string>();
  for (const spec of functions) {
    if (names.has(spec.name)) throw new Error(`Function "${spec.name}" is listed twice`);
    names.add(spec.name);
  }
  for (const route of routes) {
    if (!names.has(route.function)) {
      throw new Error(`Route ${route.method} ${route.path} names an unknown function "${route.function}"`);
    }
  }
}

/**
 * Roles that aws-cdk-lib creates at the stack root: the BucketDeployment
 * helper, and the role EventBridge Scheduler assumes to invoke the functions.
 * Their policies are aws-cdk-lib's; each wildcard is acknowledged by name.
 */
function acknowledgeCdkHelpers(stack: OpenAiStatusStack): void {
  const root = stack.node.children;
  for (const helper of root.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'))) {
    const qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const why = 'BucketDeployment helper (aws-cdk-lib)';
    acknowledge(helper, [
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        `${why}: logging through the AWS basic execution policy`,
      ],
      ['AwsSolutions-IAM5[Action::s3:GetBucket*]', `${why}: reads the asset bucket and the web bucket`],
      ['AwsSolutions-IAM5[Action::s3:GetObject*]', `${why}: reads the dashboard asset and the current files`],
      ['AwsSolutions-IAM5[Action::s3:List*]', `${why}: lists the web bucket to sync it`],
      ['AwsSolutions-IAM5[Action::s3:Abort*]', `${why}: multipart uploads into the web bucket`],
      [
        'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
        `${why}: prunes old dashboard files from the web bucket`,
      ],
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*]`,
        `${why}: the dashboard zip in the CDK bootstrap asset bucket`,
      ],
      [`AwsSolutions-IAM5[${arnFinding(stack.web.bucket, '/*')}]`, `${why}: the files of the web bucket`],
      ['AwsSolutions-IAM5[Resource::*]', `${why}: cloudfront:CreateInvalidation, which it does not scope`],
      ['AwsSolutions-L1', `${why}: its Python runtime is aws-cdk-lib's choice`],
    ]);
  }
  for (const role of root.filter((c) => c.node.id.startsWith('SchedulerRoleForTarget'))) {
    acknowledge(
      role,
      [...stack.schedules.byFunction.keys()].map((name) => [
        `AwsSolutions-IAM5[${arnFinding(stack.functions.get(name), ':*')}]`,
        `Scheduler role (aws-cdk-lib LambdaInvoke): invokes the ${name} function, any version`,
      ]),
    );
  }
}

/**
 * Stack props from CDK context (`cdk synth -c removalPolicy=destroy -c deletionProtection=false`)
 * and the product's configuration from context or environment (`-c PROBE_INTERVAL_SEC=120`).
 * Values given with `-c` arrive as strings; values in cdk.json may be booleans.
 */
export function stackPropsFromContext(
  node: Node,
  env: Record<string, string | undefined> = process.env,
): OpenAiStatusStackProps & { stackName: string } {
  const stackName = node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME;
  if (typeof stackName !== 'string' || stackName === '') {
    throw new Error(`Context "stackName" must be a non-empty string, got ${JSON.stringify(stackName)}`);
  }
  return {
    stackName,
    removalPolicy: parseRemovalPolicy(node.tryGetContext('removalPolicy')),
    deletionProtection: parseBoolean('deletionProtection', node.tryGetContext('deletionProtection')),
    config: rawConfigFromContext(node, env),
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

export function parseBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context "${name}" must be true or false, got ${JSON.stringify(value)}`);
}
