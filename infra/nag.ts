/**
 * cdk-nag (AwsSolutions pack) helpers. Every acknowledged finding carries a
 * one-line reason; the test in infra/nag.test.ts fails on anything else, and
 * `cdk synth` runs the same checks (off with `-c nag=false`).
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges findings on a construct and everything under it: `[rule id, one-line reason]`. */
export function acknowledge(scope: IConstruct, findings: readonly (readonly [string, string])[]): void {
  for (const [id, reason] of findings) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The IAM5 finding text for a resource ARN with a suffix, as cdk-nag writes
 * it: `Resource::<LogicalId.Arn>/*`.
 */
export function arnFinding(resource: IConstruct, suffix: string): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnElement;
  return `Resource::<${Stack.of(cfn).getLogicalId(cfn)}.Arn>${suffix}`;
}
