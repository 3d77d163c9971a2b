/**
 * When the window retries failed pushes on its own: the core records each failed try with the
 * time of the next one (exponential backoff); the window polls for it and syncs when it is due.
 * Fresh edits are left to the operator's "Sync now".
 */

/** How often the window asks when the next retry is due. */
export const POLL_MS = 10_000;

/** True when a retry due at `due` (the core's UTC timestamp, `YYYY-MM-DD HH:MM:SS.mmm`) should run at `now`. */
export function retryDue(due: string | null, now: Date = new Date()): boolean {
  if (!due) return false;
  const t = Date.parse(due.replace(' ', 'T') + 'Z');
  return Number.isFinite(t) && t <= now.getTime();
}
