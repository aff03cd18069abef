import type { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type RouteSpec, routeKey, routeMethods } from '../../shared/routes.js';
import { acknowledge } from '../nag.js';

/** Requests per second (steady) and burst on the whole API: a ceiling on cost, not on normal use. */
export const API_THROTTLE = { rateLimit: 50, burstLimit: 100 } as const;

export interface ApiProps {
  /** Every route of the route table; streaming routes are left to Function URLs (see Web). */
  readonly routes: readonly RouteSpec[];
  readonly functionOf: (name: string) => IFunction;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The HTTP API: one route per entry of the route table (and a HEAD route per
 * GET route), each to its function's Lambda integration (payload 2.0, the event the local gateway
 * builds too). Auth is the handlers' job (shared/http/middleware.ts checks the
 * route table's `auth`), so the routes have no authorizer.
 */
export class Api extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'openai-status API (routes from shared/routes.ts)',
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            ip: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            bytes: '$context.responseLength',
          }),
        ),
      },
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    const integrationOf = (name: string) => {
      let integration = integrations.get(name);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${name}Integration`, props.functionOf(name), {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(name, integration);
      }
      return integration;
    };
    for (const route of props.routes) {
      if (route.streaming) continue;
      // API Gateway matches methods exactly: a GET route gets its HEAD route too (routeMethods).
      this.httpApi.addRoutes({
        path: route.path,
        methods: routeMethods(route).map((method) => HttpMethod[method]),
        integration: integrationOf(route.function),
      });
    }

    acknowledge(this.httpApi, [
      [
        'AwsSolutions-APIG4',
        'Auth is in the handlers: the middleware checks INGEST_API_KEY for routes the route table marks protected',
      ],
    ]);
  }

  /** The route keys the API serves (`GET /health`, `HEAD /health`), for tests. */
  static routeKeys(routes: readonly RouteSpec[]): string[] {
    return routes
      .filter((r) => !r.streaming)
      .flatMap((r) => routeMethods(r).map((method) => routeKey({ method, path: r.path })));
  }

  /** `https://<id>.execute-api.<region>.amazonaws.com` (no trailing slash). */
  get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
