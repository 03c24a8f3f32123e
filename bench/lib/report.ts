// Markdown output: one file per bench in bench/out/, which `npm run bench`
// (bench/run-all.ts) gathers into bench/out/bench.md.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../shared/project-root.js';

export const OUT_DIR = path.join(projectRoot(), 'bench', 'out');

export type Align = 'left' | 'right';

/** A GitHub markdown table; columns after the first are right-aligned unless told. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align?: readonly Align[]): string {
  const aligns = headers.map((_, i) => align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const esc = (cell: string): string => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `| ${headers.map(esc).join(' | ')} |`,
    `| ${aligns.map((a) => (a === 'right' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** The machine line every report starts with. */
export function machineLine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `${cpus.length} cores (${model}), node ${process.version}, ${os.platform()} ${os.release()}, load average at the end ${load}.`;
}

/** Writes bench/out/<name>.md and prints it on stdout. */
export async function writeReport(name: string, markdown: string): Promise<string> {
  await mkdir(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `${name}.md`);
  const text = markdown.endsWith('\n') ? markdown : `${markdown}\n`;
  await writeFile(file, text);
  process.stdout.write(`\n${text}`);
  return file;
}
