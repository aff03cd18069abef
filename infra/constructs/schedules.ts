import { Aws, Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import type { Config } from '../../shared/config.js';
import type { FunctionSpec } from '../../shared/routes.js';
import { scheduleRateSec } from '../cloud-config.js';

export interface SchedulesProps {
  readonly functions: readonly FunctionSpec[];
  readonly functionOf: (name: string) => IFunction;
  readonly config: Config;
}

/**
 * The event a schedule sends: the shape of an EventBridge scheduled event (as
 * the local scheduler sends), with the tick's scheduled time, not the time of
 * delivery, so a late start still records the right minute.
 */
function scheduledEventInput(name: string): ScheduleTargetInput {
  return ScheduleTargetInput.fromObject({
    version: '0',
    id: ContextAttribute.executionId,
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: Aws.ACCOUNT_ID,
    time: ContextAttribute.scheduledTime,
    region: Aws.REGION,
    resources: [ContextAttribute.scheduleArn],
    detail: { schedule: name },
  });
}

/** One EventBridge Scheduler schedule per function spec with a `schedule`, at the rate its config field gives. */
export class Schedules extends Construct {
  readonly byFunction = new Map<string, { schedule: Schedule; rateSec: number }>();

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    for (const spec of props.functions) {
      if (!spec.schedule) continue;
      const rateSec = scheduleRateSec(spec, props.config);
      const schedule = new Schedule(this, spec.name, {
        description: `openai-status: ${spec.name} every ${rateSec} s (${spec.schedule})`,
        schedule: ScheduleExpression.rate(Duration.minutes(rateSec / 60)),
        target: new LambdaInvoke(props.functionOf(spec.name), {
          input: scheduledEventInput(spec.name),
          // A retried tick would record its measurements at the wrong time; the next tick comes anyway.
          retryAttempts: 0,
          maxEventAge: Duration.seconds(Math.max(60, rateSec)),
        }),
      });
      this.byFunction.set(spec.name, { schedule, rateSec });
    }
  }
}
