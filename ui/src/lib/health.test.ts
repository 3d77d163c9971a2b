import { describe, expect, it } from 'vitest';
import type { Connections } from './bindings/health/Connections';
import type { Finding } from './bindings/health/Finding';
import { archivingState, connectionSegments, findingFor, lastRun, otherFindings, percent, sectionBadge, share, size, titles } from './health';

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

  it('ties each finding to the row it names, and leaves the summaries over', () => {
    const f = (section: string, title: string): Finding => ({ severity: 'warning', section, title, suggestion: `do ${title}` });
    const findings = [
      f('indexes', 'index public.big_idx on Task unused (0 scans since 2026-11-01 10:00), 40.0 MB'),
      f('indexes', 'index public.big_idx2 on Task unused (0 scans since 2026-11-01 10:00), 41.0 MB'),
      f('indexes', 'identical indexes on public.Task: a_idx, b_idx (16.0 kB)'),
      f('indexes', 'foreign key Task_project_id_fkey on public.Task (project_id) has no supporting index (1.0 GB, ~9 rows)'),
      f('indexes', '3 small indexes unused since statistics began (48.0 kB together)'),
      f('vacuum', 'table public.Task has 12000 dead tuples (80%), last vacuum never'),
      f('replication', 'WAL archiving is off: point-in-time recovery is not possible'),
    ];
    const unused = findingFor(findings, ['indexes'], titles.unusedIndex('public', 'big_idx'));
    expect(unused?.title).toMatch(/big_idx on/);
    expect(findingFor(findings, ['indexes'], titles.unusedIndex('public', 'big'))).toBeUndefined();
    const dup = findingFor(findings, ['indexes'], titles.duplicateIndexes('public', 'Task', ['a_idx', 'b_idx']));
    const fk = findingFor(findings, ['indexes'], titles.missingFkIndex('public', 'Task', 'Task_project_id_fkey'));
    expect(dup && fk).toBeTruthy();
    expect(findingFor(findings, ['vacuum'], titles.deadTuples('public', 'Task'))?.section).toBe('vacuum');
    expect(findingFor(findings, ['indexes'], titles.deadTuples('public', 'Task'))).toBeUndefined();
    expect(sectionBadge(findings, ['vacuum'])).toEqual({ label: 'warning', tone: 'warning' });
    expect(sectionBadge(findings, ['locks'])).toEqual({ label: 'ok', tone: 'ok' });
    const big2 = findingFor(findings, ['indexes'], titles.unusedIndex('public', 'big_idx2'));
    expect(otherFindings(findings, ['indexes'], [unused, big2, dup, fk, undefined]).map((x) => x.title)).toEqual([
      '3 small indexes unused since statistics began (48.0 kB together)',
    ]);
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
