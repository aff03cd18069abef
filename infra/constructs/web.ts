import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  type BehaviorOptions,
  CacheCookieBehavior,
  CachedMethods,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  HeadersFrameOption,
  type HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { FunctionUrlAuthType, type IFunction, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { SECURITY_HEADERS } from '../../shared/http/headers.js';
import type { RouteSpec } from '../../shared/routes.js';
import { acknowledge } from '../nag.js';

/** CloudFront's default quota of cache behaviours per distribution (besides the default one). */
export const MAX_CACHE_BEHAVIORS = 25;

/** Paths of the built dashboard that API routes must not shadow. */
const WEB_PATHS = new Set(['assets', 'index.html', 'favicon.ico']);

/**
 * Viewer-request function of the default (S3) behaviour: a path without a
 * file extension is a client-side route of the dashboard, so it gets
 * /index.html. API paths never reach it (they have their own behaviours), so
 * API 404s stay API 404s, which custom error responses would swallow.
 */
export const SPA_REWRITE_FUNCTION = `function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) request.uri = '/index.html';
  return request;
}`;

/** One CloudFront path pattern and what it needs from the routes behind it. */
export interface ApiPathPattern {
  readonly pattern: string;
  /** Some route behind it is not GET. */
  readonly writes: boolean;
  /** Every route behind it is public GET: origin Cache-Control may be honoured. */
  readonly cacheable: boolean;
}

/** CloudFront path pattern of a route path: `{param}` segments become `*`. */
export function routePathPattern(path: string): string {
  return path.replace(/\{[^}]+\}/g, '*');
}

/**
 * The CloudFront path patterns that send the API's routes to API Gateway,
 * grouped by first path segment to stay under the behaviour quota:
 * `/status` for the route `/status`, `/traces/*` for `/traces/{id}` and the
 * like. Throws when a first segment is a parameter or shadows the dashboard.
 */
export function apiPathPatterns(routes: readonly RouteSpec[]): ApiPathPattern[] {
  const bySegment = new Map<string, { exact: RouteSpec[]; deeper: RouteSpec[] }>();
  for (const route of routes) {
    if (route.streaming) continue;
    const [, segment = '', ...rest] = route.path.split('/');
    if (segment === '' || segment.includes('{')) {
      throw new Error(
        `Route ${route.method} ${route.path}: its first path segment must be a fixed name so CloudFront can route it to the API`,
      );
    }
    if (WEB_PATHS.has(segment)) {
      throw new Error(`Route ${route.method} ${route.path}: /${segment} is a path of the dashboard`);
    }
    const entry = bySegment.get(segment) ?? { exact: [], deeper: [] };
    (rest.length === 0 ? entry.exact : entry.deeper).push(route);
    bySegment.set(segment, entry);
  }
  const patterns: ApiPathPattern[] = [];
  const describe = (pattern: string, routesBehind: RouteSpec[]): ApiPathPattern => ({
    pattern,
    writes: routesBehind.some((r) => r.method !== 'GET'),
    cacheable: routesBehind.every((r) => r.method === 'GET' && r.auth === 'none'),
  });
  for (const [segment, { exact, deeper }] of [...bySegment].sort(([a], [b]) => a.localeCompare(b))) {
    if (exact.length > 0) patterns.push(describe(`/${segment}`, exact));
    if (deeper.length > 0) patterns.push(describe(`/${segment}/*`, deeper));
  }
  return patterns;
}

export interface WebProps {
  readonly routes: readonly RouteSpec[];
  readonly httpApi: IHttpApi;
  readonly functionOf: (name: string) => IFunction;
  /** The built dashboard (web/dist). */
  readonly webAssetPath: string;
}

/**
 * The dashboard and the single origin users see: a private web bucket behind
 * CloudFront (Origin Access Control), the API's paths sent to API Gateway,
 * and streaming routes to their function's URL (RESPONSE_STREAM, OAC).
 */
export class Web extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** Function URLs of functions that stream, by function name. */
  readonly functionUrls = new Map<string, string>();

  constructor(scope: Construct, id: string, props: WebProps) {
    super(scope, id);
    if (!existsSync(join(props.webAssetPath, 'index.html'))) {
      throw new Error(`No dashboard build at ${props.webAssetPath}: run "npm run build:web" first`);
    }

    // Built output, re-deployed by every deploy: nothing to keep when the stack goes.
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    // The headers of shared/http/headers.ts (the local gateway sends the same), overriding the origin's.
    const securityHeaders = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'openai-status: HSTS, nosniff, frame deny, referrer policy, CSP',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(SECURITY_HEADERS.hsts.maxAgeSec),
          includeSubdomains: SECURITY_HEADERS.hsts.includeSubdomains,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption[SECURITY_HEADERS.frameOptions], override: true },
        referrerPolicy: {
          referrerPolicy: SECURITY_HEADERS.referrerPolicy as HeadersReferrerPolicy,
          override: true,
        },
        contentSecurityPolicy: {
          contentSecurityPolicy: SECURITY_HEADERS.contentSecurityPolicy,
          override: true,
        },
      },
    });

    // API answers are cached only when the handler says so (Cache-Control s-maxage, ≤ 60 s), keyed on the query.
    const apiCache = new CachePolicy(this, 'ApiCache', {
      comment: 'openai-status API: honour origin Cache-Control up to 60 s, keyed on the query string',
      defaultTtl: Duration.seconds(0),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(60),
      queryStringBehavior: CacheQueryStringBehavior.all(),
      headerBehavior: CacheHeaderBehavior.none(),
      cookieBehavior: CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const apiOrigin = new HttpOrigin(`${props.httpApi.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
    });

    const behaviors: Record<string, BehaviorOptions> = {};
    // Streaming routes first: CloudFront takes the first matching pattern.
    const streamingOrigins = new Map<string, ReturnType<typeof FunctionUrlOrigin.withOriginAccessControl>>();
    for (const route of props.routes.filter((r) => r.streaming)) {
      let origin = streamingOrigins.get(route.function);
      if (!origin) {
        const url = props.functionOf(route.function).addFunctionUrl({
          authType: FunctionUrlAuthType.AWS_IAM,
          invokeMode: InvokeMode.RESPONSE_STREAM,
        });
        origin = FunctionUrlOrigin.withOriginAccessControl(url, { readTimeout: Duration.seconds(60) });
        streamingOrigins.set(route.function, origin);
        this.functionUrls.set(route.function, url.url);
      }
      const pattern = routePathPattern(route.path);
      const existing = behaviors[pattern];
      behaviors[pattern] = {
        origin,
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods:
          route.method === 'GET' && existing?.allowedMethods !== AllowedMethods.ALLOW_ALL
            ? AllowedMethods.ALLOW_GET_HEAD
            : AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        responseHeadersPolicy: securityHeaders,
        compress: false,
      };
    }
    for (const api of apiPathPatterns(props.routes)) {
      if (behaviors[api.pattern]) continue;
      behaviors[api.pattern] = {
        origin: apiOrigin,
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: api.writes ? AllowedMethods.ALLOW_ALL : AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        cachePolicy: api.cacheable ? apiCache : CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        responseHeadersPolicy: securityHeaders,
        compress: true,
      };
    }
    const count = Object.keys(behaviors).length;
    if (count > MAX_CACHE_BEHAVIORS) {
      throw new Error(
        `The route table needs ${count} CloudFront behaviours, over the default quota of ${MAX_CACHE_BEHAVIORS}: group routes under fewer first path segments`,
      );
    }

    const spaRewrite = new EdgeFunction(this, 'SpaRewrite', {
      comment: 'Dashboard client routes (no file extension) get /index.html',
      code: FunctionCode.fromInline(SPA_REWRITE_FUNCTION),
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'openai-status: dashboard and API on one origin',
      defaultRootObject: 'index.html',
      priceClass: PriceClass.PRICE_CLASS_100,
      httpVersion: HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: securityHeaders,
        compress: true,
        functionAssociations: [{ function: spaRewrite, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: behaviors,
    });

    new BucketDeployment(this, 'Deploy', {
      sources: [Source.asset(props.webAssetPath)],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      memoryLimit: 256,
      logGroup: new LogGroup(this, 'DeployLogs', {
        retention: RetentionDays.ONE_WEEK,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    acknowledge(this.bucket, [
      [
        'AwsSolutions-S1',
        'Build output readable only through CloudFront; server access logs would cost more than they tell',
      ],
    ]);
    acknowledge(this.distribution, [
      ['AwsSolutions-CFR1', 'A public status page: no geo restriction'],
      [
        'AwsSolutions-CFR2',
        'No WAF: ~$6/month would more than double the cost; the API is throttled and reads are bounded',
      ],
      [
        'AwsSolutions-CFR3',
        'No CloudFront access logs (cost); API Gateway keeps access logs of every API call',
      ],
      [
        'AwsSolutions-CFR4',
        'Default *.cloudfront.net certificate, whose policy CloudFront fixes; add a custom domain for TLSv1.2_2021',
      ],
    ]);
  }

  /** `https://<id>.cloudfront.net` */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
