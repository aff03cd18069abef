import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { Config } from '../../shared/config.js';
import type { FunctionSpec } from '../../shared/routes.js';
import { PROBE_METRIC } from '../../shared/telemetry/probe-metrics.js';

/** An endpoint alarms when at least this share of its probes failed in a period. */
export const PROBE_FAILURE_ALARM_RATE = 0.5;
/** Probes per endpoint wanted in one alarm period, so one failure alone does not page. */
const SAMPLES_PER_PERIOD = 3;

/**
 * The failure-rate alarm period for the configuration: long enough for
 * SAMPLES_PER_PERIOD probes of each endpoint (in round robin an endpoint is
 * probed once every `interval × endpoints`), in whole 5 minutes, at most a day.
 */
export function probeAlarmPeriodSec(config: Config): number {
  const secondsPerSample =
    config.probeMode === 'all'
      ? config.probeIntervalSec
      : config.probeIntervalSec * config.probeEndpoints.length;
  const wanted = SAMPLES_PER_PERIOD * secondsPerSample;
  return Math.min(86_400, Math.max(300, Math.ceil(wanted / 300) * 300));
}

export interface AlarmsProps {
  readonly functions: readonly FunctionSpec[];
  readonly functionOf: (name: string) => IFunction;
  readonly config: Config;
  /** Schedule rate of each scheduled function. */
  readonly scheduleRates: ReadonlyMap<string, number>;
  /** The probe metrics' namespace (per stack). */
  readonly probeNamespace: string;
}

/**
 * Alarms to one SNS topic (with an e-mail subscription when ALARM_EMAIL is
 * set): per endpoint probe failure rate, per function errors, and a
 * scheduled function that stopped running.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { displayName: 'openai-status alarms', enforceSSL: true });
    if (props.config.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.config.alarmEmail));
    const action = new SnsAction(this.topic);

    const period = Duration.seconds(probeAlarmPeriodSec(props.config));
    for (const endpoint of props.config.probeEndpoints) {
      this.add(
        action,
        new Alarm(this, `ProbeFailureRate-${endpoint}`, {
          alarmDescription: `Probes of ${endpoint} failed in ≥ ${PROBE_FAILURE_ALARM_RATE * 100}% of calls over ${period.toMinutes()} min`,
          metric: new Metric({
            namespace: props.probeNamespace,
            metricName: PROBE_METRIC.name,
            dimensionsMap: { service: PROBE_METRIC.service, [PROBE_METRIC.dimension]: endpoint },
            statistic: 'Average',
            period,
          }),
          threshold: PROBE_FAILURE_ALARM_RATE,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          // No probe of it in the period (or no key yet): the function alarms say why, not this one.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    for (const spec of props.functions) {
      const fn = props.functionOf(spec.name);
      this.add(
        action,
        new Alarm(this, `Errors-${spec.name}`, {
          alarmDescription: `The ${spec.name} function failed (error or timeout) in the last 5 min`,
          metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      const rateSec = props.scheduleRates.get(spec.name);
      if (rateSec !== undefined) {
        const silentPeriod = Math.min(86_400, Math.max(900, 3 * rateSec));
        this.add(
          action,
          new Alarm(this, `NotRunning-${spec.name}`, {
            alarmDescription: `The ${spec.name} function, scheduled every ${rateSec} s, did not run for ${silentPeriod / 60} min`,
            metric: fn.metricInvocations({ period: Duration.seconds(silentPeriod), statistic: 'Sum' }),
            threshold: 1,
            comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.BREACHING,
          }),
        );
      }
    }
  }

  private add(action: IAlarmAction, alarm: Alarm): void {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}
