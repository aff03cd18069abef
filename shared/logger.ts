/**
 * The one structured logger (Powertools): JSON lines with the function name,
 * cold-start flag and, in HTTP handlers, the request id as correlation id.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: 'openai-status',
  // Read directly rather than through the config module so a bad config can still be logged.
  logLevel: (process.env.LOG_LEVEL ?? 'INFO').toUpperCase() as 'INFO',
});
