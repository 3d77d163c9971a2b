// A keyset-paged list: pages are fetched on demand with the opaque cursor of the previous
// page; a new query (filters, search) discards older in-flight answers.

import type { Page } from './bindings/Page';

export type Fetcher<T> = (after: string | null) => Promise<Page<T>>;

export interface PagedState<T> {
  items: T[];
  done: boolean;
  loading: boolean;
  error: string | null;
}

export class PagedList<T> {
  items: T[] = [];
  cursor: string | null = null;
  done = false;
  loading = false;
  error: string | null = null;
  private generation = 0;
  private fetcher: Fetcher<T>;
  private onChange: (s: PagedState<T>) => void;

  constructor(fetcher: Fetcher<T>, onChange: (s: PagedState<T>) => void = () => {}) {
    this.fetcher = fetcher;
    this.onChange = onChange;
  }

  private emit() {
    this.onChange({ items: this.items, done: this.done, loading: this.loading, error: this.error });
  }

  /** Starts over with a new fetcher (e.g. new filters). */
  async reset(fetcher?: Fetcher<T>): Promise<void> {
    if (fetcher) this.fetcher = fetcher;
    this.generation++;
    this.items = [];
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.error = null;
    this.emit();
    await this.more();
  }

  /** Loads the next page unless one is loading or the end was reached. */
  async more(): Promise<void> {
    if (this.loading || this.done) return;
    const gen = this.generation;
    this.loading = true;
    this.emit();
    try {
      const page = await this.fetcher(this.cursor);
      if (gen !== this.generation) return; // a newer query won
      this.items = this.items.concat(page.items);
      this.cursor = page.next_cursor;
      this.done = page.next_cursor === null;
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

  /** Replaces one item in place (after an edit). */
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
