/**
 * Test helpers for the CDK stack: synthesize with cdk.json's feature flags and
 * a stand-in dashboard build, so tests need neither `npm run build:web` nor
 * AWS. Bundling every function takes seconds: a test file synthesizes the
 * real stack once (`bundle: true`) and its variants without bundling.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { OpenAiStatusStack, type OpenAiStatusStackProps } from './stack.js';

/** cdk.json, so the tests synthesize with the same feature flags as `cdk synth`. */
export const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  versionReporting: boolean;
  notices: boolean;
  context: Record<string, unknown>;
};

let webDir: string | undefined;

/** A minimal dashboard build (index.html and one asset) in a temporary folder. */
export function testWebAssets(): string {
  if (!webDir) {
    webDir = mkdtempSync(join(tmpdir(), 'openai-status-web-'));
    mkdirSync(join(webDir, 'assets'));
    writeFileSync(
      join(webDir, 'index.html'),
      '<!doctype html><script type="module" src="/assets/app.js"></script>',
    );
    writeFileSync(join(webDir, 'assets', 'app.js'), 'console.log("dashboard");');
  }
  return webDir;
}

export interface Synthesized {
  app: App;
  stack: OpenAiStatusStack;
  template: Template;
}

/**
 * Builds and synthesizes the stack. `bundle: false` (the default) skips
 * esbuild: the template is the same except for the code's asset hash.
 */
export function synthStack(
  props: OpenAiStatusStackProps = {},
  options: { bundle?: boolean } = {},
): Synthesized {
  const context = { ...cdkJson.context, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const app = new App({ context });
  const stack = new OpenAiStatusStack(app, 'Test', { webAssetPath: testWebAssets(), ...props });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The logical ID of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const cfn = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(cfn).resolve(cfn.logicalId) as string;
}

export interface CfnResourceJson {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  [key: string]: unknown;
}

/** A resource of the template by the construct that made it. */
export function resourceOf(template: Template, construct: IConstruct): CfnResourceJson {
  const id = logicalId(construct);
  const resource = (template.toJSON() as { Resources: Record<string, CfnResourceJson> }).Resources[id];
  if (!resource) throw new Error(`No resource ${id} in the template`);
  return resource;
}
