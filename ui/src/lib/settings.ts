// Display helpers for the platform settings (crates/core/src/admin/settings.rs decides what is
// valid; these only lay a setting out).

import type { MigrationStatus, Setting } from './api';

/** The value as the input shows it: empty while unset (the default applies). */
export function draftOf(s: Setting): string {
  if (s.value === null || s.value === undefined) return '';
  return typeof s.value === 'string' ? s.value : JSON.stringify(s.value);
}

/** The value in effect, in words: `30`, or `15 (default)`, or `unset`. */
export function effective(s: Setting): string {
  if (s.value !== null && s.value !== undefined) return draftOf(s);
  return s.default !== null ? `${s.default} (default)` : 'unset';
}

/** The accepted range and default of a known setting (`1–1440 · default 15`), else ''. */
export function rangeHint(s: Setting): string {
  const parts: string[] = [];
  if (s.min !== null && s.max !== null) parts.push(`${s.min}–${s.max}`);
  if (s.default !== null) parts.push(`default ${s.default}`);
  return parts.join(' · ');
}

/** Whether the draft would change the stored value (an empty draft changes nothing). */
export function changed(s: Setting, draft: string): boolean {
  return draft.trim() !== '' && draft.trim() !== draftOf(s);
}

/** The schema's state in a few words, and how it should look. */
export function schemaSummary(list: MigrationStatus[]): { label: string; tone: string } {
  const n = (state: MigrationStatus['state']) => list.filter((m) => m.state === state).length;
  const done = list.filter((m) => m.state !== 'pending');
  const last = done[done.length - 1];
  const at = last ? `, last ${String(last.version).padStart(4, '0')}_${last.name}` : '';
  if (n('drifted')) return { label: `${n('drifted')} migration(s) edited after being applied (ncy-admin migrate status)`, tone: 'bad' };
  if (n('pending')) return { label: `${n('pending')} of ${list.length} migrations pending: run ncy-admin migrate up`, tone: 'warn' };
  const adopted = n('baselined') ? ` (${n('baselined')} adopted from the platform's own schema)` : '';
  return { label: `up to date: ${list.length} migrations applied${adopted}${at}`, tone: 'ok' };
}
