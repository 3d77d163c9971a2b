// GDPR screen helpers: the intake's due-date preview (the crate computes the real one) and the
// typed confirmation of an erasure.

/** Received + 1 calendar month, clamped to the month's last day (Art. 12(3); as `request::due_date`). */
export function dueDate(received: Date): Date {
  const y = received.getUTCFullYear();
  const m = received.getUTCMonth() + 1;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const d = new Date(received.getTime());
  d.setUTCDate(1);
  d.setUTCMonth(m);
  d.setUTCDate(Math.min(received.getUTCDate(), last));
  return d;
}

/** True when the typed text confirms `email` (trimmed, case-insensitive, never empty). */
export function confirms(typed: string, email: string | null | undefined): boolean {
  const t = typed.trim().toLowerCase();
  return !!email && t.length > 0 && t === email.trim().toLowerCase();
}
