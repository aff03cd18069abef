import { afterEach, describe, expect, it, vi } from 'vitest';
import { platformOf } from '../config.js';
import { emitProbeMetrics, PROBE_METRIC } from './probe-metrics.js';

const lambdaEnv = { AWS_LAMBDA_FUNCTION_NAME: 'probe', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };

/** The EMF documents emitProbeMetrics writes to stdout (Powertools writes through its own Console). */
function emitted(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    run();
  } finally {
    write.mockRestore();
  }
  return lines.flatMap((line) => line.split('\n').filter(Boolean)).map((line) => JSON.parse(line));
}

afterEach(() => vi.restoreAllMocks());

describe('probe metrics (EMF through Powertools Metrics)', () => {
  it('writes one document per endpoint, 1 for a failure and 0 for a success, at the probe time', () => {
    const now = Date.now();
    const docs = emitted(() =>
      emitProbeMetrics(
        [
          { endpoint: 'chat', ok: true, ts: now - 2000 },
          { endpoint: 'models', ok: false, ts: now - 1000 },
          { endpoint: 'chat', ok: false, ts: now },
        ],
        { platform: platformOf(lambdaEnv) },
      ),
    );
    expect(docs).toEqual([
      {
        _aws: {
          Timestamp: now - 2000,
          CloudWatchMetrics: [
            {
              Namespace: PROBE_METRIC.namespace,
              Dimensions: [['service', 'endpoint']],
              Metrics: [{ Name: 'ProbeFailed', Unit: 'Count' }],
            },
          ],
        },
        service: PROBE_METRIC.service,
        endpoint: 'chat',
        ProbeFailed: [0, 1],
      },
      expect.objectContaining({ endpoint: 'models', ProbeFailed: 1, service: PROBE_METRIC.service }),
    ]);
    // The endpoint dimension does not leak from one document into the next.
    expect((docs[1] as { _aws: { Timestamp: number } })._aws.Timestamp).toBe(now - 1000);
  });

  it('emits only in Lambda, in the stack-given namespace', () => {
    const events = [{ endpoint: 'chat', ok: false, ts: Date.now() }];
    expect(platformOf({}).inLambda).toBe(false);
    expect(emitted(() => emitProbeMetrics(events, { platform: platformOf({}) }))).toEqual([]);
    const docs = emitted(() =>
      emitProbeMetrics(events, {
        platform: platformOf({ ...lambdaEnv, PROBE_METRICS_NAMESPACE: 'OpenAiStatus/dev' }),
      }),
    );
    expect(docs).toHaveLength(1);
    const doc = docs[0] as { _aws: { CloudWatchMetrics: { Namespace: string }[] }; ProbeFailed: number };
    expect(doc._aws.CloudWatchMetrics[0]?.Namespace).toBe('OpenAiStatus/dev');
    expect(doc.ProbeFailed).toBe(1);
  });

  it('writes nothing for a tick without events', () => {
    expect(emitted(() => emitProbeMetrics([], { platform: platformOf(lambdaEnv) }))).toEqual([]);
  });
});
