// Medians and the markdown tables the benchmark prints.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string {
  const align = header.map((_, i) => (rightAligned[i] ? '---:' : '---'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export const fmt = {
  int: (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ratio: (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a'),
  ms: (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 1 ? 3 : 2) : 'n/a'),
  cores: (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(2) : '-'),
  pct: (n: number): string => (Number.isFinite(n) ? `${Math.round(100 * n)}%` : 'n/a'),
};
