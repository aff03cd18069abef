/**
 * A heatmap drawn on a canvas: rows × time buckets, colour by value. Labels,
 * legend and tooltip are DOM text (textContent through JSX), never HTML. The
 * canvas takes keyboard focus: arrow keys move a cell cursor whose value is
 * announced; a data table is there for screen readers and copying.
 */

import type { TargetedKeyboardEvent, TargetedMouseEvent } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ScrollRegion } from '../components';
import { axisTime, dateTime } from '../format';
import { useShared } from '../state';
import { displayText } from '../text';
import { cssColor } from './TimeChart';

export interface HeatmapProps {
  rows: string[];
  times: number[];
  /** values[row][column]; null = no data. */
  values: (number | null)[][];
  format: (value: number) => string;
  /** Log colour scale (latency) or linear (counts). */
  log?: boolean;
  /** Zero is drawn as "none" (error counts). */
  zeroIsEmpty?: boolean;
  label: string;
  testId?: string;
}

const ROW_HEIGHT = 24;

function parseColor(color: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (hex?.[1]) {
    const n = Number.parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const rgb = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  return [128, 128, 128];
}

function mix(a: [number, number, number], b: [number, number, number], t: number): string {
  const c = a.map((v, i) => Math.round(v + ((b[i] as number) - v) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export function Heatmap(props: HeatmapProps) {
  const { theme } = useShared();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [cell, setCell] = useState<{ r: number; c: number; mouse: boolean } | null>(null);
  const [tableOpen, setTableOpen] = useState(false);
  const columns = props.times.length;

  const scale = useMemo(() => {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const row of props.values) {
      for (const v of row) {
        if (v === null || (props.zeroIsEmpty && v === 0)) continue;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    if (!Number.isFinite(min)) return null;
    const f = (v: number) => (props.log ? Math.log(Math.max(v, 0.001)) : v);
    const lo = f(min);
    const hi = f(max);
    return { min, max, at: (v: number) => (hi === lo ? 1 : (f(v) - lo) / (hi - lo)) };
  }, [props.values, props.log, props.zeroIsEmpty]);

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    setWidth(box.clientWidth);
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => setWidth(box.clientWidth));
    observer.observe(box);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width === 0) return;
    const dpr = devicePixelRatio || 1;
    const height = props.rows.length * ROW_HEIGHT;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const lo = parseColor(cssColor('--heat-lo'));
    const mid = parseColor(cssColor('--heat-mid'));
    const hi = parseColor(cssColor('--heat-hi'));
    const empty = cssColor('--heat-empty');
    const cw = width / Math.max(1, columns);
    props.values.forEach((row, r) => {
      row.forEach((v, c) => {
        const x = Math.floor(c * cw);
        const w = Math.max(1, Math.floor((c + 1) * cw) - x - (cw > 4 ? 1 : 0));
        if (v === null || !scale || (props.zeroIsEmpty && v === 0)) ctx.fillStyle = empty;
        else {
          const t = scale.at(v);
          ctx.fillStyle = t < 0.5 ? mix(lo, mid, t * 2) : mix(mid, hi, (t - 0.5) * 2);
        }
        ctx.fillRect(x, r * ROW_HEIGHT + 1, w, ROW_HEIGHT - 2);
      });
    });
    if (cell) {
      ctx.strokeStyle = cssColor('--text');
      ctx.lineWidth = 2;
      ctx.strokeRect(
        Math.floor(cell.c * cw) + 1,
        cell.r * ROW_HEIGHT + 1,
        Math.max(2, cw - 2),
        ROW_HEIGHT - 2,
      );
    }
  }, [props.values, props.rows.length, columns, width, scale, cell, theme, props.zeroIsEmpty]);

  const describe = (r: number, c: number) => {
    const v = props.values[r]?.[c] ?? null;
    const t = props.times[c];
    const value =
      v === null || (props.zeroIsEmpty && v === 0)
        ? props.zeroIsEmpty
          ? 'none'
          : 'no data'
        : props.format(v);
    return displayText(`${props.rows[r]} · ${t === undefined ? '' : dateTime(t)} · ${value}`);
  };

  const onMove = (event: TargetedMouseEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const c = Math.floor(((event.clientX - rect.left) / rect.width) * columns);
    const r = Math.floor((event.clientY - rect.top) / ROW_HEIGHT);
    if (r >= 0 && r < props.rows.length && c >= 0 && c < columns) setCell({ r, c, mouse: true });
    else setCell(null);
  };

  const onKey = (event: TargetedKeyboardEvent<HTMLCanvasElement>) => {
    const at = cell ?? { r: 0, c: columns - 1, mouse: false };
    let { r, c } = at;
    if (event.key === 'ArrowRight') c = Math.min(columns - 1, c + 1);
    else if (event.key === 'ArrowLeft') c = Math.max(0, c - 1);
    else if (event.key === 'ArrowDown') r = Math.min(props.rows.length - 1, r + 1);
    else if (event.key === 'ArrowUp') r = Math.max(0, r - 1);
    else if (event.key === 'Home') c = 0;
    else if (event.key === 'End') c = columns - 1;
    else if (event.key === 'Escape') {
      setCell(null);
      return;
    } else return;
    event.preventDefault();
    setCell({ r, c, mouse: false });
  };

  const tipText = cell ? describe(cell.r, cell.c) : '';
  const cw = width / Math.max(1, columns);
  const tickIdx = columns <= 1 ? [0] : [0, Math.floor((columns - 1) / 2), columns - 1];

  return (
    <div class="heatmap" data-testid={props.testId} data-rows={props.rows.length} data-columns={columns}>
      <div class="heatmap-grid">
        <ul class="heatmap-rows" aria-hidden="true">
          {props.rows.map((row) => (
            <li key={row} style={{ height: `${ROW_HEIGHT}px` }} title={displayText(row)}>
              {displayText(row)}
            </li>
          ))}
        </ul>
        <div class="heatmap-canvas" ref={boxRef}>
          <canvas
            ref={canvasRef}
            // Its drawn size from the first render (a canvas is 150 px high until told otherwise, and the
            // axis below it would move when the drawing effect sizes it).
            style={{ width: '100%', height: `${props.rows.length * ROW_HEIGHT}px` }}
            tabIndex={0}
            role="img"
            aria-label={`${displayText(props.label)}. Use the arrow keys to read cells.`}
            onMouseMove={onMove}
            onMouseLeave={() => setCell((c) => (c?.mouse ? null : c))}
            onKeyDown={onKey}
            onBlur={() => setCell((c) => (c?.mouse ? c : null))}
          />
          {cell ? (
            <div
              class="heat-tip"
              style={{
                left: `${Math.min(Math.max(0, cell.c * cw - 80), Math.max(0, width - 220))}px`,
                top: `${(cell.r + 1) * ROW_HEIGHT + 4}px`,
              }}
            >
              {tipText}
            </div>
          ) : null}
          <div class="heatmap-axis" aria-hidden="true">
            {tickIdx.map((i) => (
              <span key={i}>
                {props.times[i] === undefined
                  ? ''
                  : axisTime(props.times[i] as number, (props.times.at(-1) ?? 0) - (props.times[0] ?? 0))}
              </span>
            ))}
          </div>
        </div>
      </div>
      <span class="visually-hidden" aria-live="polite">
        {cell && !cell.mouse ? tipText : ''}
      </span>
      {scale ? (
        <div class="heat-legend" aria-hidden="true">
          <span>{props.format(scale.min)}</span>
          <span class="heat-ramp" />
          <span>{props.format(scale.max)}</span>
          {props.log ? <span class="muted small">(log scale)</span> : null}
        </div>
      ) : null}
      <details
        class="data-table"
        onToggle={(e) => setTableOpen((e.currentTarget as HTMLDetailsElement).open)}
      >
        <summary>Data table</summary>
        {tableOpen ? (
          <ScrollRegion label="Heatmap data table">
            <table class="table table-compact">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  {props.rows.map((row) => (
                    <th key={row} scope="col">
                      {displayText(row)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {props.times.map((t, c) => (
                  <tr key={t}>
                    <th scope="row">{dateTime(t)}</th>
                    {props.rows.map((row, r) => {
                      const v = props.values[r]?.[c] ?? null;
                      return (
                        <td key={row} class="num">
                          {v === null ? '—' : props.format(v)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
        ) : null}
      </details>
    </div>
  );
}
