// Progress events of long jobs (export, erasure, sync) as a bar width.

/** Percentage of a progress event (0 when the total is unknown). */
export function pct(done: number, total: number): number {
  const t = Number(total);
  return t > 0 ? Math.min(100, (100 * Number(done)) / t) : 0;
}
