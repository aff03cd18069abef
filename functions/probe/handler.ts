import type { Context, ScheduledEvent } from 'aws-lambda';
import { getConfig } from '../../shared/config.js';
import { logger } from '../../shared/logger.js';
import { runProbeTick } from '../../shared/probes/runner.js';
import { loadSecrets } from '../../shared/secrets.js';
import { compactAfterTick } from '../../shared/store/compaction.js';
import { emitProbeMetrics } from '../../shared/telemetry/probe-metrics.js';

/** Time kept back from the Lambda timeout for writing the results. */
const WRITE_RESERVE_MS = 3000;

/**
 * Fired by the schedule every PROBE_INTERVAL_SEC: runs this tick's probes and
 * records them. Failed calls are data, not errors; only a failure to store
 * them fails the invocation (and shows in the function's error metric).
 */
export async function handler(event: ScheduledEvent, context: Context) {
  await loadSecrets();
  logger.addContext(context);
  const config = getConfig();
  if (!config.openaiBaseUrl) {
    // In the cloud there is no simulator: without a key there is nothing to probe.
    throw new Error(
      'OPENAI_API_KEY is not set: put it in the secret named by SECRET_ARN (README, Deploy to AWS)',
    );
  }
  const tickTime = Date.parse(event.time) || Date.now();
  const budgetMs = Math.max(1000, context.getRemainingTimeInMillis() - WRITE_RESERVE_MS);
  const result = await runProbeTick({ config, tickTime, budgetMs });
  // Per-endpoint failure rate for the CloudWatch alarms (EMF; only in Lambda).
  emitProbeMetrics(result.events);
  // The scheduled side of the read path: closed minutes, blocks and hours become compact items.
  const compaction = await compactAfterTick(config);
  const summary = {
    tick: event.time,
    probes: result.probes,
    ok: result.events.filter((e) => e.ok).length,
    failed: result.events.filter((e) => !e.ok).map((e) => `${e.endpoint}:${e.errorType}`),
    skipped: result.skipped,
    writeRequests: result.stored.writeRequests,
    compaction,
  };
  logger.info('probe tick', summary);
  return summary;
}
