import { describe, expect, it } from 'vitest';
import { platformOf } from '../config.js';
import { emitProbeMetrics, PROBE_METRIC, probeMetricDocuments } from './probe-metrics.js';

const lambdaEnv = { AWS_LAMBDA_FUNCTION_NAME: 'probe', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };

describe('probe metrics (EMF)', () => {
  it('writes one document per endpoint, 1 for a failure and 0 for a success', () => {
    const docs = probeMetricDocuments([
      { endpoint: 'chat', ok: true, ts: 1000 },
      { endpoint: 'models', ok: false, ts: 1100 },
      { endpoint: 'chat', ok: false, ts: 1200 },
    ]);
    expect(docs).toEqual([
      {
        _aws: {
          Timestamp: 1000,
          CloudWatchMetrics: [
            {
              Namespace: PROBE_METRIC.namespace,
              Dimensions: [['endpoint']],
              Metrics: [{ Name: 'ProbeFailed', Unit: 'Count' }],
            },
          ],
        },
        endpoint: 'chat',
        ProbeFailed: [0, 1],
      },
      expect.objectContaining({ endpoint: 'models', ProbeFailed: 1 }),
    ]);
  });

  it('emits only in Lambda, in the stack-given namespace', () => {
    const lines: string[] = [];
    const events = [{ endpoint: 'chat', ok: false, ts: 1 }];
    emitProbeMetrics(events, { platform: platformOf({}) });
    expect(platformOf({}).inLambda).toBe(false);
    expect(platformOf(lambdaEnv).inLambda).toBe(true);
    emitProbeMetrics(events, {
      write: (line) => lines.push(line),
      platform: platformOf({ ...lambdaEnv, PROBE_METRICS_NAMESPACE: 'OpenAiStatus/dev' }),
    });
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0] as string);
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('OpenAiStatus/dev');
    expect(doc.ProbeFailed).toBe(1);
  });

  it('writes nothing for a tick without events', () => {
    expect(probeMetricDocuments([])).toEqual([]);
  });
});
