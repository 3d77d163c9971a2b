// Display helpers. Core timestamps are UTC without a zone ("2026-11-26 07:36:35.123" or ISO).

export function parseUtc(ts: string | null | undefined): Date | null {
  if (!ts) return null;
  const iso = ts.replace(' ', 'T');
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
  return isNaN(d.getTime()) ? null : d;
}

export function fmtDate(ts: string | null | undefined): string {
  const d = parseUtc(ts);
  if (!d) return '—';
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

export function ago(ts: string | null | undefined, now: Date = new Date()): string {
  const d = parseUtc(ts);
  if (!d) return '—';
  const s = Math.round((now.getTime() - d.getTime()) / 1000);
  const abs = Math.abs(s);
  const unit = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] : abs < 86400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86400), 'd'];
  return s >= 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

export function num(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return Number(n).toLocaleString('en-US');
}

export function label(s: string): string {
  return s.replace(/_/g, ' ').toLowerCase().replace(/^\w/, (c) => c.toUpperCase());
}
