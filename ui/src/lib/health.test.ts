import { describe, expect, it } from 'vitest';
import type { Connections } from './bindings/health/Connections';
import type { Finding } from './bindings/health/Finding';
import { archivingState, connectionSegments, findingFor, lastRun, otherFindings, percent, sectionBadge, sessionFinding, share, size, about } from './health';

describe('health display helpers', () => {
  it('prints sizes the way the findings do (1024-based)', () => {
    expect(size(512)).toBe('512 B');
    expect(size(8192)).toBe('8.0 kB');
    expect(size(40 * 1024 * 1024)).toBe('40.0 MB');
    expect(size(3 * 1024 ** 3)).toBe('3.0 GB');
    expect(size(null)).toBe('—');
  });

  it('prints ratios and shares', () => {
    expect(percent(0.987)).toBe('98.7 %');
    expect(percent(1, 0)).toBe('100 %');
    expect(percent(null)).toBe('—');
    expect(share(3, 4)).toBe(0.75);
    expect(share(3, 0)).toBeNull();
  });

  it('lays the connection states out against the usable connections, busy states first', () => {
    const c = {
      by_state: [
        { state: 'idle', count: 10, this_database: 4 },
        { state: 'idle in transaction', count: 2, this_database: 2 },
        { state: 'active', count: 3, this_database: 1 },
        { state: 'disabled', count: 0, this_database: 0 },
      ],
      total: 15, active: 3, idle_in_transaction: 2, max_connections: 103, superuser_reserved: 3, usage_percent: 15,
    } as unknown as Connections;
    const { segments, usable, free } = connectionSegments(c);
    expect(usable).toBe(100);
    expect(free).toBe(85);
    expect(segments.map((s) => s.state)).toEqual(['active', 'idle in transaction', 'idle']);
    expect(segments.map((s) => s.percent)).toEqual([3, 2, 10]);
    expect(segments.map((s) => s.tone)).toEqual(['active', 'warn', 'idle']);
  });

  it('picks the later of a manual and an automatic run', () => {
    expect(lastRun(null, null)).toBeNull();
    expect(lastRun('2026-11-20T10:00:00', null)).toEqual({ at: '2026-11-20T10:00:00', auto: false });
    expect(lastRun(null, '2026-11-20T10:00:00')).toEqual({ at: '2026-11-20T10:00:00', auto: true });
    expect(lastRun('2026-11-20T10:00:00', '2026-11-21T09:00:00.5')?.auto).toBe(true);
    expect(lastRun('2026-11-22T10:00:00', '2026-11-21T09:00:00')?.auto).toBe(false);
  });

  it('ties each finding to the row it is about, and leaves the summaries over', () => {
    const f = (section: string, title: string, key: string | null = null): Finding => ({ severity: 'warning', section, title, suggestion: `do ${title}`, about: key });
    const findings = [
      f('indexes', 'index public.big_idx on Task unused (0 scans), 40.0 MB', 'unused_index:public.big_idx'),
      f('indexes', 'index public.big_idx2 on Task unused (0 scans), 41.0 MB', 'unused_index:public.big_idx2'),
      f('indexes', 'identical indexes on public.Task: a_idx, b_idx (16.0 kB)', 'duplicate_indexes:public.Task:a_idx,b_idx'),
      f('indexes', 'foreign key Task_project_id_fkey on public.Task has no supporting index', 'fk_without_index:public.Task.Task_project_id_fkey'),
      f('indexes', '3 small indexes unused since statistics began (48.0 kB together)'),
      f('vacuum', 'table public.Task has 12000 dead tuples (80%), last vacuum never', 'dead_tuples:public.Task'),
      f('replication', 'WAL archiving is off: point-in-time recovery is not possible'),
      f('replication', 'replica standby-1 is 2 min behind', 'replica_lag:standby-1'),
      f('replication', 'inactive replication slot old_slot retains 2.0 GB of WAL', 'inactive_slot:old_slot'),
    ];
    const unused = findingFor(findings, about.unusedIndex('public', 'big_idx'));
    expect(unused?.title).toMatch(/big_idx on/);
    // A name that is a prefix of another's does not match it.
    expect(findingFor(findings, about.unusedIndex('public', 'big'))).toBeUndefined();
    // The kind of finding is part of the key: an unused index is not an invalid one.
    expect(findingFor(findings, about.invalidIndex('public', 'big_idx'))).toBeUndefined();
    const dup = findingFor(findings, about.duplicateIndexes('public', 'Task', ['a_idx', 'b_idx']));
    const fk = findingFor(findings, about.missingFkIndex('public', 'Task', 'Task_project_id_fkey'));
    expect(dup && fk).toBeTruthy();
    expect(findingFor(findings, about.deadTuples('public', 'Task'))?.section).toBe('vacuum');
    expect(findingFor(findings, about.replicaLag('standby-1'))?.title).toMatch(/behind/);
    expect(findingFor(findings, about.slot('old_slot'))?.title).toMatch(/old_slot/);
    expect(sectionBadge(findings, ['vacuum'])).toEqual({ label: 'warning', tone: 'warning' });
    expect(sectionBadge(findings, ['locks'])).toEqual({ label: 'ok', tone: 'ok' });
    const big2 = findingFor(findings, about.unusedIndex('public', 'big_idx2'));
    expect(otherFindings(findings, ['indexes'], [unused, big2, dup, fk, undefined]).map((x) => x.title)).toEqual([
      '3 small indexes unused since statistics began (48.0 kB together)',
    ]);
  });

  it('finds the finding about a session by its pid, not a pid that merely starts the same', () => {
    const f = (about: string, title: string): Finding => ({ severity: 'warning', section: 'activity', title, suggestion: 'end it', about });
    const findings = [f('idle_in_transaction:123', 'session 123 idle'), f('blocked:45', 'session 45 waits')];
    expect(sessionFinding(findings, 123)?.title).toBe('session 123 idle');
    expect(sessionFinding(findings, 45)?.title).toBe('session 45 waits');
    expect(sessionFinding(findings, 12)).toBeUndefined();
    expect(sessionFinding(findings, 1234)).toBeUndefined();
  });

  it('says whether WAL archiving is off, working or failing', () => {
    const a = { archive_mode: 'on', failed_count: 0, last_failed_time: null as string | null, last_archived_time: null as string | null };
    expect(archivingState({ ...a, archive_mode: 'off' })).toEqual({ label: 'archiving off', tone: 'warn' });
    expect(archivingState(a).label).toBe('archiving on, nothing archived yet');
    expect(archivingState({ ...a, last_archived_time: '2026-11-26T10:00:00' })).toEqual({ label: 'archiving on', tone: 'ok' });
    expect(archivingState({ ...a, failed_count: 1, last_archived_time: '2026-11-26T10:00:00', last_failed_time: '2026-11-26T10:05:00' }).tone).toBe('bad');
    expect(archivingState({ ...a, failed_count: 1, last_archived_time: '2026-11-26T10:10:00', last_failed_time: '2026-11-26T10:05:00' }).tone).toBe('ok');
  });
});
