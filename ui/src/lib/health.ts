// Display derivations for the Database health screen. The numbers and the findings (severity +
// suggestion) come from `ncy_health::report`; nothing here decides what is wrong, it only lays the
// report out and ties each finding to the row it is about.

import type { Connections } from './bindings/health/Connections';
import type { Finding } from './bindings/health/Finding';
import { parseUtc } from './format';

type Num = number | null | undefined;

const later = (a: string, b: string) => (parseUtc(a)?.getTime() ?? 0) > (parseUtc(b)?.getTime() ?? 0);

/** Byte size as the crate's findings print it (1024-based: `512 B`, `8.0 kB`, `40.0 MB`). */
export function size(n: Num): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A 0..1 ratio as a percentage (`98.7 %`); `—` when unknown. */
export function percent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** `part / whole` as 0..1, or null when the whole is 0. */
export function share(part: Num, whole: Num): number | null {
  const w = Number(whole ?? 0);
  return w > 0 ? Number(part ?? 0) / w : null;
}

/** One segment of the connections bar. */
export type StateSegment = { state: string; count: number; thisDatabase: number; percent: number; tone: string };

// Order and colour of the connection states in the bar: busy first, then the ones that hold
// resources for nothing, then the plain idle ones.
const STATE_ORDER = ['active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call', 'idle', 'disabled'];
const STATE_TONE: Record<string, string> = {
  active: 'active',
  'idle in transaction': 'warn',
  'idle in transaction (aborted)': 'bad',
  idle: 'idle',
};

/**
 * The connections by state as segments of a bar whose full width is the connections clients may
 * use (`max_connections - superuser_reserved_connections`), in a stable order.
 */
export function connectionSegments(c: Connections): { segments: StateSegment[]; usable: number; free: number } {
  const usable = Math.max(1, Number(c.max_connections) - Number(c.superuser_reserved));
  const rank = (s: string) => {
    const i = STATE_ORDER.indexOf(s);
    return i < 0 ? STATE_ORDER.length : i;
  };
  const segments = c.by_state
    .map((s) => ({
      state: s.state,
      count: Number(s.count),
      thisDatabase: Number(s.this_database),
      percent: Math.min(100, (Number(s.count) / usable) * 100),
      tone: STATE_TONE[s.state] ?? 'other',
    }))
    .filter((s) => s.count > 0 || s.thisDatabase > 0)
    .sort((a, b) => rank(a.state) - rank(b.state) || a.state.localeCompare(b.state));
  const used = segments.reduce((n, s) => n + s.count, 0);
  return { segments, usable, free: Math.max(0, usable - used) };
}

/** The later of a manual and an automatic maintenance run (vacuum or analyze), and which it was. */
export function lastRun(manual: string | null, auto: string | null): { at: string; auto: boolean } | null {
  if (!manual && !auto) return null;
  if (!manual) return { at: auto as string, auto: true };
  if (!auto) return { at: manual, auto: false };
  return later(auto, manual) ? { at: auto, auto: true } : { at: manual, auto: false };
}

/**
 * The finding about one object, by the stable key the crate gives it (`Finding.about`), so that
 * its severity and suggestion show on that object's row.
 */
export function findingFor(findings: Finding[], about: string): Finding | undefined {
  return findings.find((f) => f.about === about);
}

/** The finding about session `pid`: idle in transaction, a long transaction, or waiting on a lock. */
export function sessionFinding(findings: Finding[], pid: number): Finding | undefined {
  const keys = [`idle_in_transaction:${pid}`, `long_transaction:${pid}`, `blocked:${pid}`];
  return findings.find((f) => f.about !== null && keys.includes(f.about));
}

/** Findings of `sections` that no row claimed (summaries such as "12 small indexes unused"). */
export function otherFindings(findings: Finding[], sections: string[], claimed: (Finding | undefined)[]): Finding[] {
  const used = new Set(claimed.filter(Boolean));
  return findings.filter((f) => sections.includes(f.section) && !used.has(f));
}

/** The `Finding.about` key of each kind of per-object finding (see crates/health/src/findings.rs). */
export const about = {
  unusedIndex: (schema: string, name: string) => `unused_index:${schema}.${name}`,
  invalidIndex: (schema: string, name: string) => `invalid_index:${schema}.${name}`,
  duplicateIndexes: (schema: string, table: string, indexes: string[]) => `duplicate_indexes:${schema}.${table}:${indexes.join(',')}`,
  missingFkIndex: (schema: string, table: string, constraint: string) => `fk_without_index:${schema}.${table}.${constraint}`,
  deadTuples: (schema: string, name: string) => `dead_tuples:${schema}.${name}`,
  replicaLag: (application: string | null) => `replica_lag:${application ?? '?'}`,
  slot: (name: string) => `inactive_slot:${name}`,
};

/** The state of WAL archiving in a few words, and how it should look. */
export function archivingState(a: { archive_mode: string; failed_count: number; last_failed_time: string | null; last_archived_time: string | null }): { label: string; tone: string } {
  if (a.archive_mode === 'off') return { label: 'archiving off', tone: 'warn' };
  const f = a.last_failed_time;
  const ok = a.last_archived_time;
  if (f && (!ok || later(f, ok))) return { label: 'archiving failing', tone: 'bad' };
  if (!ok) return { label: `archiving ${a.archive_mode}, nothing archived yet`, tone: 'info' };
  return { label: `archiving ${a.archive_mode}`, tone: 'ok' };
}

/**
 * The badge of a section: its worst finding's severity (findings come most severe first), or
 * `ok` when the report has none for it.
 */
export function sectionBadge(findings: Finding[], sections: string[]): { label: string; tone: string } {
  const f = findings.find((x) => sections.includes(x.section));
  return f ? { label: f.severity, tone: f.severity } : { label: 'ok', tone: 'ok' };
}

/** A ratio (0..1) or a percentage as a bar width in percent, clamped to 0..100. */
export const pct = (x: number | null | undefined) => (x == null ? null : Math.max(0, Math.min(100, x <= 1 ? x * 100 : x)));

/** Seconds as `4.2 s`, `12 min` or `1.5 h`; `—` when unknown. */
export const secs = (s: number | null | undefined) => (s == null ? '—' : s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

/** Milliseconds as `12.3 ms` or `1.20 s`. */
export const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
