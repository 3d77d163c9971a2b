import { describe, expect, it } from 'vitest';
import { diffRows } from './diff';

describe('diffRows', () => {
  it('marks changed fields first, then added, removed, unchanged', () => {
    const rows = diffRows(
      { status: 'TODO', title: 'Write', priority: 'LOW', gone: 1 },
      { status: 'DONE', title: 'Write', priority: 'LOW', due_date: '2026-12-01' },
    );
    expect(rows.map((r) => [r.field, r.kind])).toEqual([
      ['status', 'changed'], ['due_date', 'added'], ['gone', 'removed'], ['priority', 'unchanged'], ['title', 'unchanged'],
    ]);
    expect(rows[0]).toMatchObject({ old: 'TODO', new: 'DONE' });
  });
  it('handles creation (no old value) and deletion (no new value)', () => {
    expect(diffRows(null, { email: 'a@b.c' })).toEqual([{ field: 'email', old: null, new: 'a@b.c', kind: 'added' }]);
    expect(diffRows({ email: 'a@b.c' }, null)[0].kind).toBe('removed');
  });
  it('compares nested values as JSON', () => {
    const rows = diffRows({ settings: { a: 1 } }, { settings: { a: 2 } });
    expect(rows[0]).toEqual({ field: 'settings', old: '{"a":1}', new: '{"a":2}', kind: 'changed' });
    expect(diffRows({ x: null }, { x: null })[0].kind).toBe('unchanged');
  });
});
