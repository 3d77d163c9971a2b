// Line-chart geometry for the Health screen's Prometheus charts: nice axis bounds, scaling of
// (unix seconds, value) points into an SVG box, and value / time labels. Pure functions.

export interface Pt { t: number; v: number }
export interface SeriesIn { name: string; points: Pt[] }
export interface Box { width: number; height: number; left: number; right: number; top: number; bottom: number }
export interface Line { name: string; color: string; d: string; points: number; last: number | null }
export interface Scaled { lines: Line[]; yMax: number; yTicks: number[]; xTicks: { t: number; x: number }[]; empty: boolean }

/** Colours of successive series (readable on light and dark backgrounds). */
export const PALETTE = ['#3b82f6', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];

/** The smallest 1 / 2 / 2.5 / 5 × 10^k at or above `v` (1 for 0 or less: a flat zero line still has an axis). */
export function niceMax(v: number): number {
  if (!(v > 0) || !isFinite(v)) return 1;
  const k = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * k >= v * (1 - 1e-9)) return m * k;
  return 10 * k;
}

/** Evenly spaced ticks from 0 to max (n intervals). */
export function ticks(max: number, n = 4): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
}

/** Scales series into the box: x over [start, end], y over [0, nice max of all values]. */
export function scale(series: SeriesIn[], start: number, end: number, box: Box): Scaled {
  const span = end > start ? end - start : 1;
  const w = box.width - box.left - box.right;
  const h = box.height - box.top - box.bottom;
  const all = series.flatMap((s) => s.points.map((p) => p.v)).filter((v) => isFinite(v));
  const yMax = niceMax(Math.max(0, ...all));
  const x = (t: number) => box.left + ((Math.min(Math.max(t, start), end) - start) / span) * w;
  const y = (v: number) => box.top + h - (Math.max(0, Math.min(v, yMax)) / yMax) * h;
  const lines = series.map((s, i) => {
    const pts = s.points.filter((p) => isFinite(p.t) && isFinite(p.v)).sort((a, b) => a.t - b.t);
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    return { name: s.name, color: PALETTE[i % PALETTE.length], d, points: pts.length, last: pts.length ? pts[pts.length - 1].v : null };
  });
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ t: start + f * span, x: box.left + f * w }));
  return { lines, yMax, yTicks: ticks(yMax), xTicks, empty: lines.every((l) => l.points === 0) };
}

/** A value with its unit, compact (`1.5k`, `250 ms` for seconds below 1, `12 %`). */
export function fmtValue(v: number | null, unit: string): string {
  if (v == null || !isFinite(v)) return '—';
  if (unit === 's') {
    if (v === 0) return '0 s';
    if (v < 1e-3) return `${(v * 1e6).toFixed(0)} µs`;
    if (v < 1) return `${+(v * 1e3).toPrecision(3)} ms`;
    return `${+v.toPrecision(3)} s`;
  }
  const a = Math.abs(v);
  const n = a >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : a >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : `${+v.toPrecision(3)}`;
  return unit === 'bool' || unit === '' ? n : `${n} ${unit}`;
}

/** `HH:MM` (UTC) of a unix time; with the date when the window spans more than a day. */
export function fmtTime(t: number, span: number): string {
  const iso = new Date(t * 1000).toISOString();
  return span > 86400 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/** The windows offered on the Health screen (values parse with the crate's parse_window). */
export const WINDOWS = [
  { value: '15m', label: '15 min' },
  { value: '1h', label: '1 h' },
  { value: '6h', label: '6 h' },
  { value: '24h', label: '24 h' },
];
