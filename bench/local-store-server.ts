/**
 * Helper of bench/status-query.ts: runs the local store (dynalite + s3rver,
 * in memory, or on disk under BENCH_STORE_DIR when set) in its own process, so
 * the server and the benchmark's SDK client each get a CPU core, as they
 * would against a real DynamoDB. Prints one JSON line with the endpoints,
 * then runs until stdin closes (the parent ended or died) or SIGTERM.
 */
import { createInterface } from 'node:readline';
import { startLocalStore } from '../infra/local/store.js';

const store = await startLocalStore({ dataDir: process.env.BENCH_STORE_DIR || undefined });
process.stdout.write(
  `${JSON.stringify({ dynamodbEndpoint: store.dynamodbEndpoint, s3Endpoint: store.s3Endpoint })}\n`,
);

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await store.close();
  process.exit(0);
}
// A line `cpu` on stdin answers with this process's CPU time so far (ms) and its RSS (MiB).
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    const rssMb = process.memoryUsage().rss / 2 ** 20;
    process.stdout.write(`${JSON.stringify({ cpuMs: (user + system) / 1000, rssMb })}\n`);
  })
  .on('close', () => void close());
process.on('SIGTERM', () => void close());
