import { describe, expect, it } from 'vitest';
import { PagedList, visibleRange } from './paging';
import type { Page } from './bindings/Page';

// A real keyset source over an in-memory array: the cursor is the last index served.
function source(n: number, pageSize: number, log: (string | null)[] = []) {
  const rows = Array.from({ length: n }, (_, i) => ({ id: i }));
  return async (after: string | null): Promise<Page<{ id: number }>> => {
    log.push(after);
    const start = after === null ? 0 : Number(after) + 1;
    const items = rows.slice(start, start + pageSize);
    const last = start + items.length - 1;
    return { items, next_cursor: last < n - 1 ? String(last) : null };
  };
}

describe('PagedList', () => {
  it('walks every page with the previous cursor and stops at the end', async () => {
    const log: (string | null)[] = [];
    const p = new PagedList(source(25, 10, log));
    await p.reset();
    await p.more();
    await p.more();
    await p.more(); // past the end: no request
    expect(p.items.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(p.done).toBe(true);
    expect(log).toEqual([null, '9', '19']);
  });

  it('drops the answer of an older query when filters change mid-flight', async () => {
    let release: () => void = () => {};
    const slow = async () => {
      await new Promise<void>((r) => (release = r));
      return { items: [{ id: -1 }], next_cursor: null };
    };
    const p = new PagedList<{ id: number }>(slow);
    const first = p.reset();
    await p.reset(source(3, 10));
    release();
    await first;
    expect(p.items.map((r) => r.id)).toEqual([0, 1, 2]);
  });

  it('records errors and stops paging', async () => {
    const states: boolean[] = [];
    const p = new PagedList(async () => { throw new Error('server unreachable'); }, (s) => states.push(s.loading));
    await p.reset();
    expect(p.error).toBe('server unreachable');
    expect(p.done).toBe(true);
    expect(states[states.length - 1]).toBe(false);
  });
});

describe('visibleRange', () => {
  it('renders only the rows in view plus overscan', () => {
    expect(visibleRange(0, 400, 40, 1_000_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(40_000, 400, 40, 1_000_000, 5)).toEqual({ start: 995, end: 1015 });
    expect(visibleRange(40_000, 400, 40, 1003, 5)).toEqual({ start: 995, end: 1003 });
    expect(visibleRange(0, 400, 40, 0)).toEqual({ start: 0, end: 0 });
  });
});
