/**
 * The dashboard with the browser test's seed data, to look at by hand:
 * `npx tsx test/browser/serve.ts` (PORT, default 3100). Data is in memory.
 */
import { startSeededStack } from './seed.js';

const seeded = await startSeededStack({ PORT: process.env.PORT ?? '3100' });
console.log(`seeded ${seeded.events} events; dashboard at ${seeded.stack.gateway.url}/ (Ctrl-C stops)`);
process.on('SIGINT', () => {
  void seeded.stop().then(() => process.exit(0));
});
