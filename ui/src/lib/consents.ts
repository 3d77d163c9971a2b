// User drawer's Consents tab: the crate's ConsentView (ncy-gdpr `consent`) shaped for display.
// The crate decides the current state; these only join and order what it returned.

import type { ConsentView } from './bindings/gdpr/ConsentView';
import type { ConsentRecord } from './bindings/gdpr/ConsentRecord';

/** The current state of one purpose with the source of the change that set it. */
export interface ConsentRow {
  purpose: string;
  granted: boolean;
  /** When it was granted or withdrawn. */
  at: string;
  /** Source of the latest record of this purpose (`ncy-admin` unless one was given). */
  source: string | null;
}

/** Current state per purpose (the crate's order), each with its latest record's source. */
export function consentRows(v: ConsentView | null | undefined): ConsentRow[] {
  if (!v) return [];
  const latest = new Map<string, ConsentRecord>();
  for (const r of v.history) latest.set(r.purpose, r);
  return v.current.map((c) => ({ ...c, source: latest.get(c.purpose)?.source ?? null }));
}

/** The history newest first (the crate returns it oldest first). */
export function newestFirst(v: ConsentView | null | undefined): ConsentRecord[] {
  return v ? [...v.history].reverse() : [];
}
