// Command palette filtering: every query word must match the label or keywords (prefix of a
// word ranks higher than a substring), results sorted by score then label.

export interface Command {
  id: string;
  label: string;
  group: string;
  keywords?: string;
  run: () => void;
}

export function score(c: Command, query: string): number {
  const q = query.trim().toLowerCase();
  if (!q) return 1;
  const label = c.label.toLowerCase();
  const hay = `${label} ${(c.keywords ?? '').toLowerCase()} ${c.group.toLowerCase()}`;
  const words = hay.split(/[\s/&-]+/).filter(Boolean);
  let total = 0;
  for (const t of q.split(/\s+/)) {
    if (label.startsWith(t)) total += 10;
    else if (words.some((w) => w.startsWith(t))) total += 5;
    else if (hay.includes(t)) total += 1;
    else return 0;
  }
  return total;
}

export function filterCommands(cmds: Command[], query: string, max = 12): Command[] {
  return cmds
    .map((c) => ({ c, s: score(c, query) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.c.label.localeCompare(b.c.label))
    .slice(0, max)
    .map((x) => x.c);
}
