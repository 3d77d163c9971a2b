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

describe('PagedList window', () => {
  it('holds at most maxPages pages while scrolling down, and counts every row seen', async () => {
    const log: (string | null)[] = [];
    const p = new PagedList(source(1000, 10, log), () => {}, 3);
    await p.reset();
    for (let i = 0; i < 20; i++) await p.more();
    expect(p.count).toBe(210);
    expect(p.items.length).toBe(30);
    expect(p.offset).toBe(180);
    expect(p.items.map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => 180 + i));
    expect(new Set(log).size).toBe(log.length); // each page fetched once on the way down
  });

  it('scrolling back re-fetches a dropped page with the cursor that first fetched it', async () => {
    const log: (string | null)[] = [];
    const p = new PagedList(source(1000, 10, log), () => {}, 3);
    await p.reset();
    for (let i = 0; i < 9; i++) await p.more(); // pages 0..9 seen, window 7..9
    expect(p.offset).toBe(70);
    log.length = 0;
    await p.need(65, 75); // row 65 is on page 6, next to the window
    expect(log).toEqual(['59']);
    expect(p.offset).toBe(60);
    expect(p.items.map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => 60 + i));
    await p.need(5, 15); // far above: the window jumps to page 0
    expect(log).toEqual(['59', null]);
    expect(p.offset).toBe(0);
    expect(p.items.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    await p.need(5, 25); // and grows down again from there
    expect(log).toEqual(['59', null, '9']);
    expect(p.items.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(p.count).toBe(100); // nothing seen twice is counted twice
  });

  it('past the rows seen, need() reads the next unseen page and stops at the end', async () => {
    const log: (string | null)[] = [];
    const p = new PagedList(source(25, 10, log), () => {}, 2);
    await p.reset();
    await p.need(0, 15);
    await p.need(10, 30);
    await p.need(15, 30); // all seen and held: no request
    expect(p.done).toBe(true);
    expect(p.count).toBe(25);
    expect(log).toEqual([null, '9', '19']);
    expect(p.offset + p.items.length).toBe(25);
  });

  it('replace() edits a held row in place', async () => {
    const p = new PagedList(source(30, 10), () => {}, 2);
    await p.reset();
    p.replace((r) => r.id === 3, { id: 300 });
    expect(p.items[3]).toEqual({ id: 300 });
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
