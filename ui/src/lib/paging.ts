// A keyset-paged list over tables of any size with flat memory: pages are fetched on demand with
// the opaque cursor of the previous page, and only a window of `maxPages` consecutive pages is
// held. Pages scrolled far away are dropped; scrolling back re-fetches them with the cursor that
// first fetched them (cursors are a few bytes each, rows are not). A new query (filters, search)
// discards older in-flight answers.

import type { Page } from './bindings/Page';

export type Fetcher<T> = (after: string | null) => Promise<Page<T>>;

export interface PagedState<T> {
  /** The rows held in memory: rows `offset` .. `offset + items.length - 1` of the list. */
  items: T[];
  /** Index of `items[0]` in the whole list. */
  offset: number;
  /** Rows discovered so far (held or dropped). */
  count: number;
  done: boolean;
  loading: boolean;
  error: string | null;
}

/** Pages of 200 rows: 10 pages keep at most 2 000 rows in memory. */
export const DEFAULT_MAX_PAGES = 10;

export class PagedList<T> {
  /** Rows of the loaded window (pages `lo` .. `hi - 1`). */
  items: T[] = [];
  done = false;
  loading = false;
  error: string | null = null;
  /** `after` argument that fetched page k (`cursors[0]` is null); one more than pages seen when not done. */
  private cursors: (string | null)[] = [null];
  /** Row count of every page seen. */
  private sizes: number[] = [];
  private lo = 0;
  private hi = 0;
  private generation = 0;
  private fetcher: Fetcher<T>;
  private onChange: (s: PagedState<T>) => void;
  private maxPages: number;

  constructor(fetcher: Fetcher<T>, onChange: (s: PagedState<T>) => void = () => {}, maxPages = DEFAULT_MAX_PAGES) {
    this.fetcher = fetcher;
    this.onChange = onChange;
    this.maxPages = Math.max(2, maxPages);
  }

  /** Index of the first held row in the whole list. */
  get offset(): number {
    let n = 0;
    for (let k = 0; k < this.lo; k++) n += this.sizes[k];
    return n;
  }

  /** Rows discovered so far. */
  get count(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }

  /** The cursor of the page after the last one seen (null before the first page). */
  get cursor(): string | null {
    return this.cursors[this.sizes.length] ?? null;
  }

  private emit() {
    this.onChange({
      items: this.items, offset: this.offset, count: this.count,
      done: this.done, loading: this.loading, error: this.error,
    });
  }

  /** Starts over with a new fetcher (e.g. new filters). */
  async reset(fetcher?: Fetcher<T>): Promise<void> {
    if (fetcher) this.fetcher = fetcher;
    this.generation++;
    this.items = [];
    this.cursors = [null];
    this.sizes = [];
    this.lo = this.hi = 0;
    this.done = false;
    this.loading = false;
    this.error = null;
    this.emit();
    await this.more();
  }

  /** Loads the next unseen page, when the window reaches the end of what was seen. */
  async more(): Promise<void> {
    if (this.done) return;
    await this.load(this.sizes.length);
  }

  /**
   * Makes sure rows `start` .. `end - 1` are held: a row outside the window brings its page
   * (jumping there when it is not next to the window); rows just past the window extend it,
   * into unseen pages too. One page per call: call again after each change.
   */
  async need(start: number, end: number): Promise<void> {
    if (this.loading) return;
    const off = this.offset;
    const held = off + this.items.length;
    if (start < off || (start >= held && this.items.length > 0)) await this.load(this.pageOf(start));
    else if (end > held) await this.load(this.hi);
  }

  /** The page holding row `i`, or the next unseen page past the rows seen. */
  private pageOf(i: number): number {
    let n = 0;
    for (let k = 0; k < this.sizes.length; k++) {
      n += this.sizes[k];
      if (i < n) return k;
    }
    return this.sizes.length;
  }

  /** Fetches page `k` (seen before, or the next unseen one) into the window. */
  private async load(k: number): Promise<void> {
    if (this.loading || (k >= this.lo && k < this.hi)) return;
    if (k > this.sizes.length || (k === this.sizes.length && this.done)) return;
    const gen = this.generation;
    this.loading = true;
    this.emit();
    try {
      const page = await this.fetcher(this.cursors[k]);
      if (gen !== this.generation) return; // a newer query won
      this.place(k, page);
      this.error = null;
    } catch (e) {
      if (gen !== this.generation) return;
      this.error = e instanceof Error ? e.message : String(e);
      this.done = true;
    } finally {
      if (gen === this.generation) {
        this.loading = false;
        this.emit();
      }
    }
  }

  private place(k: number, page: Page<T>) {
    if (k === this.sizes.length) {
      this.sizes.push(page.items.length);
      this.cursors[k + 1] = page.next_cursor;
      this.done = page.next_cursor === null;
    } else {
      // A page seen before, fetched again with the cursor that first fetched it. Rows may have
      // come or gone since: its size is updated (later rows shift), keyset order is kept.
      this.sizes[k] = page.items.length;
    }
    if (k === this.hi && this.hi > this.lo) {
      this.items = this.items.concat(page.items);
      this.hi++;
      while (this.hi - this.lo > this.maxPages) this.items = this.items.slice(this.sizes[this.lo++]);
    } else if (k === this.lo - 1) {
      this.items = page.items.concat(this.items);
      this.lo--;
      while (this.hi - this.lo > this.maxPages) {
        this.hi--;
        this.items = this.items.slice(0, this.items.length - this.sizes[this.hi]);
      }
    } else {
      // A jump (or the first page): the window restarts at page k.
      this.items = page.items.slice();
      this.lo = k;
      this.hi = k + 1;
    }
  }

  /** Replaces one held item in place (after an edit). */
  replace(pred: (t: T) => boolean, next: T): void {
    const i = this.items.findIndex(pred);
    if (i >= 0) {
      this.items = this.items.slice();
      this.items[i] = next;
      this.emit();
    }
  }
}

/** The slice of rows a virtualized list renders for a scroll position. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 8): { start: number; end: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.ceil(viewport / rowHeight) + overscan);
  return { start, end: Math.max(start, end) };
}

/** The state of a list before its first page. */
export function emptyPage<T>(): PagedState<T> {
  return { items: [], offset: 0, count: 0, done: false, loading: false, error: null };
}
