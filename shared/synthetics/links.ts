/**
 * Short-lived links to run screenshots: `/synthetics/screenshots/<name>?exp=&sig=`,
 * where the name is `<monitor id>.<run id>.<n>.jpg`, `exp` the expiry (epoch
 * seconds) and `sig` a truncated HMAC-SHA256 of name and expiry keyed with
 * CURSOR_SECRET (the API's one signing secret). The screenshots stay private
 * in the artifacts bucket; only a holder of a fresh link can read one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';
import { ARTIFACT_PREFIXES } from '../schema.js';
import type { RunRecord } from '../store/synthetics.js';
import { cursorKey } from '../traces/cursor.js';

/** Where a run's `n`-th screenshot is stored in the artifacts bucket. */
export const screenshotKey = (monitorId: string, runId: string, n: number) =>
  `${ARTIFACT_PREFIXES.synthetics}${monitorId}/${runId}/${n}.jpg`;

/** How long a link works. */
export const LINK_TTL_SEC = 15 * 60;
const NAME = /^(m_[0-9a-f]{10})\.(r_[0-9a-z]{1,30})\.(\d)\.jpg$/;

const signature = (name: string, exp: number, secret: string) =>
  createHmac('sha256', secret).update(`screenshot|${name}|${exp}`).digest('base64url').slice(0, 24);

/** The API path of a stored screenshot (an artifacts key from screenshotKey), valid LINK_TTL_SEC from now. */
export function screenshotLink(key: string, config: Pick<Config, 'cursorSecret'>, nowMs: number): string {
  const [, monitorId, runId, file] = key.split('/');
  const name = `${monitorId}.${runId}.${file}`;
  const exp = Math.floor(nowMs / 1000) + LINK_TTL_SEC;
  return `/synthetics/screenshots/${name}?exp=${exp}&sig=${signature(name, exp, cursorKey(config))}`;
}

/** The artifacts key a link names, when its signature holds and it has not expired; else why not. */
export function checkScreenshotLink(
  name: string,
  exp: string | undefined,
  sig: string | undefined,
  config: Pick<Config, 'cursorSecret'>,
  nowMs: number,
): { key: string } | { problem: string } {
  const parts = NAME.exec(name);
  if (!parts) return { problem: 'not a screenshot name' };
  const expiry = Number(exp);
  if (!exp || !/^\d{1,12}$/.test(exp) || !sig) return { problem: 'the link needs exp and sig' };
  const expected = Buffer.from(signature(name, expiry, cursorKey(config)));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { problem: 'the signature does not match' };
  if (expiry * 1000 < nowMs) return { problem: 'the link has expired; fetch the run again for a new one' };
  return { key: screenshotKey(parts[1] as string, parts[2] as string, Number(parts[3])) };
}

/** A run as the API shows it: screenshot keys become short-lived links, the last one as `screenshot`. */
export function runView(run: RunRecord, config: Pick<Config, 'cursorSecret'>, now: number) {
  const { screenshots, ...rest } = run;
  const links = screenshots.map((key) => screenshotLink(key, config, now));
  return { ...rest, screenshots: links, ...(links.length ? { screenshot: links.at(-1) } : {}) };
}
