/**
 * The project's zod: `zod/mini` (functions instead of methods, so esbuild
 * keeps only what a function's schemas use; classic `zod` put ~90 KB of
 * methods in every bundle), with English messages. Classic zod installs the
 * English locale on first use; mini has none and would answer "Invalid input"
 * everywhere, so it is installed here, once, before any schema parses.
 * Schemas import this module, never `zod` or `zod/mini` directly:
 * `import * as z from '../zod.js'`.
 */
import { config, NEVER } from 'zod/mini';
import type { ParsePayload } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

/**
 * Refuses the value inside a `z.transform` with `message`, as classic zod's
 * `ctx.addIssue({ code: 'custom', message })` did (mini's transforms have no
 * addIssue): the issue stops the pipe, and its message is the answer's.
 */
export function refuse(ctx: ParsePayload, message: string): never {
  ctx.issues.push({ code: 'custom', message, input: ctx.value });
  return NEVER;
}
