// Display helpers for the platform settings (crates/core/src/admin/settings.rs decides what is
// valid; these only lay a setting out).

import type { Setting } from './api';

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
