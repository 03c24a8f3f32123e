// Ranks the functions of a V8 .cpuprofile (node --cpu-prof) by self time and
// by inclusive time, as markdown tables: where a process spent its CPU.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../shared/project-root.js';
import { markdownTable } from './report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The newest .cpuprofile in `dir`. */
export async function newestProfile(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const last = files.at(-1);
  return last === undefined ? undefined : path.join(dir, last);
}

export async function rankProfile(file: string, top = 12): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const root = projectRoot();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    let where = url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '');
    if (where.startsWith('node:')) where = where.slice(5);
    return `${functionName || '(anonymous)'}${where ? ` (${where}:${lineNumber + 1})` : ''}`;
  };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  let total = 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = label(node);
    if (name.startsWith('(idle)')) continue;
    total += us;
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const l = label(n);
      if (seen.has(l) || l.startsWith('(root)')) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1)}%`;
  const rank = (m: Map<string, number>): string[][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [`\`${name}\``, pct(us), `${(us / 1000).toFixed(0)} ms`]);
  return [
    `Busy CPU in the profile: ${(total / 1e6).toFixed(1)} s.`,
    '',
    markdownTable(['function (self time)', 'share', 'time'], rank(self)),
    '',
    markdownTable(['function (inclusive)', 'share', 'time'], rank(inclusive).filter((r) => !/^`\((garbage collector|program)\)/.test(r[0] ?? ''))),
  ].join('\n');
}
