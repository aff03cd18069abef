/**
 * The one structured logger (Powertools): JSON lines with the function name,
 * cold-start flag and, in HTTP handlers, the request id as correlation id.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { logLevel } from './config.js';

export const logger = new Logger({
  serviceName: 'openai-status',
  // LOG_LEVEL alone, not the whole configuration, so a bad config can still be logged.
  logLevel: logLevel(),
});
