// Plain aligned columns for list output (no colours, no box drawing, so it
// pastes well and greps well).

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `blue=90 green=10`, or `-` for an empty map. */
export function percentMap(map: Record<string, number>): string {
  const entries = Object.entries(map);
  return entries.length === 0 ? '-' : entries.map(([name, percent]) => `${name}=${percent}%`).join(' ');
}
