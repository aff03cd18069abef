/** Number and time formatting for the dashboard. */

export function pct(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const p = value * 100;
  if (p === 100) return '100%';
  return `${p.toFixed(digits)}%`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return grouped(value);
}

/**
 * A whole number with thousands separators, "12,345" (as en-US writes it),
 * without toLocaleString: its first call loads ICU's number formatting, a few
 * milliseconds inside the first render.
 */
export function grouped(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '$0';
  if (Math.abs(value) < 0.01) return `$${value.toPrecision(2)}`;
  return `$${value.toFixed(2)}`;
}

export function ratio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 ? `${Math.round(value)}×` : `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

/**
 * Dates as en-US writes them with Intl.DateTimeFormat ("Nov 30, 09:03:05 PM", in local time), written
 * by hand: a page's first Intl.DateTimeFormat builds ICU's pattern generator, 160–190 ms of one task
 * at the mobile preset's 4× CPU slowdown (measured in headless Chromium), a long task on every tab.
 * The dashboard's text is English, as its numbers are (`grouped`).
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const twoDigits = (n: number) => (n < 10 ? `0${n}` : String(n));

/** "09:03 PM", or "09:03:05 PM" with seconds: the 12-hour clock with two-digit hours. */
function clock(date: Date, seconds: boolean): string {
  const hours = date.getHours();
  const s = seconds ? `:${twoDigits(date.getSeconds())}` : '';
  return `${twoDigits(hours % 12 || 12)}:${twoDigits(date.getMinutes())}${s} ${hours < 12 ? 'AM' : 'PM'}`;
}

/** "Nov 30" */
const monthDay = (date: Date) => `${MONTHS[date.getMonth()]} ${date.getDate()}`;

/** An axis label: the time of day, or the date when the axis spans days. */
export function axisTime(ts: number, spanMs: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return '—';
  return spanMs > 2 * 86_400_000 ? monthDay(date) : clock(date, false);
}

/** "Nov 30, 09:03:05 PM" */
export function dateTime(ts: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return '—';
  return `${monthDay(date)}, ${clock(date, true)}`;
}

export function ago(ts: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** "5 min", "1 h", "1 d" for a bucket size. */
export function duration(msValue: number): string {
  const m = msValue / 60_000;
  if (m < 60) return `${m} min`;
  if (m < 1440) return `${m / 60} h`;
  return `${m / 1440} d`;
}

/**
 * Latency tick labels in one unit for the whole axis (seconds once the axis
 * reaches 1 s, else milliseconds), with as many decimals as the step needs:
 * "0 s, 0.5 s, 1.0 s", never "0.0 ms" beside "1.00 s".
 */
export function msAxis(splits: readonly number[]): string[] {
  const top = Math.max(0, ...splits.map((v) => Math.abs(v)));
  const step = splits.length > 1 ? Math.abs((splits[1] as number) - (splits[0] as number)) : top;
  const seconds = top >= 1000;
  const unit = seconds ? 1000 : 1;
  const scaledStep = step / unit;
  const decimals = scaledStep > 0 ? Math.min(3, Math.max(0, -Math.floor(Math.log10(scaledStep) + 1e-9))) : 0;
  return splits.map((v) => `${(v / unit).toFixed(decimals)} ${seconds ? 's' : 'ms'}`);
}
