// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time
// and by inclusive time, plus self time by area (our code, undici,
// prom-client, Node internals, GC), as markdown.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export async function summarizeCpuProfile(file: string, repoRoot: string, top = 25): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const label = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shorten(url, repoRoot)}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };

  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = label(node);
    self.set(name, (self.get(name) ?? 0) + us);
    const a = areaOf(node.callFrame.url, node.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    // Inclusive: charge every distinct function on the sample's stack once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const frameName = label(frame);
      if (seen.has(frameName)) continue;
      seen.add(frameName);
      inclusive.set(frameName, (inclusive.get(frameName) ?? 0) + us);
    }
  }

  const pct = (us: number): string => `${((100 * us) / Math.max(1, totalUs)).toFixed(1)}%`;
  const rows = (map: Map<string, number>, n: number): string[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `| ${pct(us)} | ${(us / 1000).toFixed(0)} | \`${name.replace(/\|/g, '\\|')}\` |`);
  return [
    `Profile: ${shorten(file, repoRoot)} (${(totalUs / 1e6).toFixed(1)} s of samples)`,
    '',
    '### Self time by area',
    '',
    '| share | ms | area |',
    '|---:|---:|---|',
    ...rows(area, 20),
    '',
    `### Top ${top} functions by self time`,
    '',
    '| share | ms | function |',
    '|---:|---:|---|',
    ...rows(self, top),
    '',
    `### Top ${top} functions by inclusive time`,
    '',
    '| share | ms | function |',
    '|---:|---:|---|',
    ...rows(inclusive, top),
    '',
  ].join('\n');
}

function shorten(url: string, repoRoot: string): string {
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm !== -1) return file.slice(nm + 1);
  if (file.startsWith(repoRoot)) return path.relative(repoRoot, file);
  return file;
}

function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return '(program: native, outside JS)';
    return `native: ${functionName || '(anonymous)'}`;
  }
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1] ?? 'node_modules';
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  const dist = url.match(/\/dist\/([^/]+)\//);
  if (dist) return `saferoll ${dist[1]}/`;
  return url;
}
