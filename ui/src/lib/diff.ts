// Old/new diff of an audit entry: one row per field, marked added / removed / changed /
// unchanged; nested values are compared as JSON text.

export type DiffKind = 'added' | 'removed' | 'changed' | 'unchanged';
export interface DiffRow { field: string; old: string | null; new: string | null; kind: DiffKind }

function text(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function asObject(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  return { value: v };
}

export function diffRows(oldV: unknown, newV: unknown): DiffRow[] {
  const o = asObject(oldV);
  const n = asObject(newV);
  const fields = new Set<string>([...Object.keys(o ?? {}), ...Object.keys(n ?? {})]);
  const rows: DiffRow[] = [];
  for (const f of [...fields].sort()) {
    const inOld = o !== null && f in o;
    const inNew = n !== null && f in n;
    const a = inOld ? text(o![f]) : null;
    const b = inNew ? text(n![f]) : null;
    const kind: DiffKind = !inOld ? 'added' : !inNew ? 'removed' : a === b ? 'unchanged' : 'changed';
    rows.push({ field: f, old: a, new: b, kind });
  }
  const order: Record<DiffKind, number> = { changed: 0, added: 1, removed: 2, unchanged: 3 };
  return rows.sort((x, y) => order[x.kind] - order[y.kind] || x.field.localeCompare(y.field));
}
