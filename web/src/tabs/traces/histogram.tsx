/** The latency histogram of the calls in range, with its p50/p95/p99 marks. */
import { ms, num } from '../../format';
import type { HistogramAnswer } from '../../types';

export function Histogram(props: { data: HistogramAnswer }) {
  const { bins, percentiles } = props.data;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const marks = (['p50', 'p95', 'p99'] as const)
    .map((k) => ({ k, m: percentiles[k] }))
    .filter((x): x is { k: 'p50' | 'p95' | 'p99'; m: { value: number; bin: number } } => x.m !== null);
  const n = bins.length;
  return (
    <div class="histogram" data-testid="latency-histogram">
      <div
        class="histo-bars"
        role="img"
        aria-label={`Latency distribution of ${num(props.data.count)} calls: ${marks
          .map((x) => `${x.k} ${ms(x.m.value)}`)
          .join(', ')}`}
      >
        {bins.map((b) => (
          <div
            key={b.lower}
            class="histo-bar"
            style={{ height: `${(b.count / max) * 100}%` }}
            title={`${ms(b.lower)} – ${ms(b.upper)}: ${b.count}`}
          />
        ))}
        {marks.map(({ k, m }) => (
          <div
            key={k}
            class={`histo-mark mark-${k}${m.bin + 0.5 > n * 0.6 ? ' mark-end' : ''}`}
            style={{ left: `${((m.bin + 0.5) / Math.max(1, n)) * 100}%` }}
          >
            <span>
              {k} {ms(m.value)}
            </span>
          </div>
        ))}
      </div>
      <div class="histo-axis" aria-hidden="true">
        <span>{ms(bins[0]?.lower)}</span>
        <span>{props.data.scale === 'log' ? 'log-scaled bins' : 'linear bins'}</span>
        <span>{ms(bins.at(-1)?.upper)}</span>
      </div>
    </div>
  );
}
