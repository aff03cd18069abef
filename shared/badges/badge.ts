/**
 * Shields-style badges for READMEs: a grey label and a coloured value, white
 * text with a shadow. Each half paints its own background, so a badge reads
 * the same on light and dark pages. Figures come from the rollups, as /status's.
 */
import type { Config } from '../config.js';
import type { Source } from '../events/model.js';
import { type Aggregate, emptyAggregate } from '../stats/aggregate.js';
import { byEndpoint } from '../status/status.js';
import { floorTo, MINUTE_MS } from '../store/keys.js';
import { rollupsFor } from '../store/rollups.js';

/** The status badge looks at this many minutes ending now. */
export const STATUS_WINDOW_MINUTES = 60;

const COLORS = {
  green: '#2e7d32',
  yellow: '#b26a00',
  red: '#c62828',
  grey: '#616161',
  label: '#555',
} as const;

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );

/** Verdana 11 px widths, roughly: narrow, wide and the rest (shields measures; this is within a few px). */
function textWidth(text: string): number {
  let width = 0;
  for (const c of text)
    width += /[ilj.,:;!|'I1]/.test(c) ? 3.5 : /[mwMW@%]/.test(c) ? 10 : /[A-Z0-9]/.test(c) ? 7.5 : 6.5;
  return Math.ceil(width);
}

/** A flat badge: `label | value`. */
export function renderBadge(label: string, value: string, color: string): string {
  const lw = textWidth(label) + 12;
  const vw = textWidth(value) + 12;
  const width = lw + vw;
  const l = escapeXml(label);
  const v = escapeXml(value);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" role="img" aria-label="${l}: ${v}">`,
    `<title>${l}: ${v}</title>`,
    '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>',
    `<clipPath id="r"><rect width="${width}" height="20" rx="3" fill="#fff"/></clipPath>`,
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="${COLORS.label}"/><rect x="${lw}" width="${vw}" height="20" fill="${color}"/><rect width="${width}" height="20" fill="url(#s)"/></g>`,
    '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">',
    `<text x="${lw / 2}" y="15" fill="#010101" fill-opacity=".3">${l}</text><text x="${lw / 2}" y="14">${l}</text>`,
    `<text x="${lw + vw / 2}" y="15" fill="#010101" fill-opacity=".3">${v}</text><text x="${lw + vw / 2}" y="14">${v}</text>`,
    '</g></svg>',
  ].join('');
}

/** `operational` at ≥ 99% success, `degraded` at ≥ 90%, else `down`; `no data` without executions. */
export function statusOf(aggregate: Aggregate): { value: string; color: string } {
  if (aggregate.total === 0) return { value: 'no data', color: COLORS.grey };
  const rate = aggregate.ok / aggregate.total;
  if (rate >= 0.99) return { value: 'operational', color: COLORS.green };
  if (rate >= 0.9) return { value: 'degraded', color: COLORS.yellow };
  return { value: 'down', color: COLORS.red };
}

/** `99.95%`: two decimals, never rounded up to 100% while something failed. */
export function uptimeText(aggregate: Aggregate): { value: string; color: string } {
  if (aggregate.total === 0) return { value: 'no data', color: COLORS.grey };
  const rate = (aggregate.ok / aggregate.total) * 100;
  const shown = aggregate.ok < aggregate.total ? Math.min(Math.floor(rate * 100) / 100, 99.99) : 100;
  const color = rate >= 99.5 ? COLORS.green : rate >= 95 ? COLORS.yellow : COLORS.red;
  return { value: `${shown.toFixed(shown === 100 ? 0 : 2)}%`, color };
}

/** `90m`, `24h`, `7d`: the window as a label. */
export function windowLabel(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}m`;
}

/** The endpoint's figures over [from, to) from the rollups. */
export async function endpointAggregate(input: {
  config: Config;
  now: number;
  source: Source;
  endpoint: string;
  from: number;
  to: number;
}): Promise<Aggregate> {
  const items = await rollupsFor(input).read({
    sources: [input.source],
    from: input.from,
    to: input.to,
    filter: { endpoint: [input.endpoint] },
  });
  return byEndpoint(items).get(input.endpoint) ?? emptyAggregate();
}

export async function statusBadge(config: Config, now: number, source: Source, endpoint: string) {
  const to = floorTo(now, MINUTE_MS) + MINUTE_MS;
  const aggregate = await endpointAggregate({
    config,
    now,
    source,
    endpoint,
    from: to - STATUS_WINDOW_MINUTES * MINUTE_MS,
    to: now + 1,
  });
  const { value, color } = statusOf(aggregate);
  return renderBadge(endpoint, value, color);
}

export async function uptimeBadge(
  config: Config,
  now: number,
  source: Source,
  endpoint: string,
  range: { from: number; to: number; minutes: number },
) {
  const aggregate = await endpointAggregate({
    config,
    now,
    source,
    endpoint,
    from: range.from,
    to: range.to,
  });
  const { value, color } = uptimeText(aggregate);
  return renderBadge(`${endpoint} uptime ${windowLabel(range.minutes)}`, value, color);
}
