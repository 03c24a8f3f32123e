// Reads a V8 .cpuprofile (node --cpu-prof) and ranks where the process spent
// its CPU, as markdown: rankProfile (functions by self and inclusive time, for
// a section of a bench report) and profileByArea (also self time by area:
// our code, undici, prom-client, Node internals, GC; router-overhead).
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../shared/project-root.js';
import { markdownTable } from './report.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface Profile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Sampled microseconds per key: self (the sampled frame) and inclusive (every distinct key on its stack, once). */
interface Times {
  totalUs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
}

/** The newest .cpuprofile in `dir` (node names them by start time). */
export async function newestProfile(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const last = files.at(-1);
  return last === undefined ? undefined : path.join(dir, last);
}

async function readProfile(file: string): Promise<Profile> {
  return JSON.parse(await readFile(file, 'utf8')) as Profile;
}

/** Sampled time by `keyOf(frame)`; samples whose key `skip` matches are left out, keys `skipInclusive` matches get no inclusive time. */
function timesBy(profile: Profile, keyOf: (frame: CallFrame) => string, skip?: (key: string) => boolean, skipInclusive?: (key: string) => boolean): Times {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  const times: Times = { totalUs: 0, self: new Map(), inclusive: new Map() };
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const key = keyOf(node.callFrame);
    if (skip?.(key)) continue;
    times.totalUs += us;
    times.self.set(key, (times.self.get(key) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const frameKey = keyOf(frame.callFrame);
      if (seen.has(frameKey) || skipInclusive?.(frameKey)) continue;
      seen.add(frameKey);
      times.inclusive.set(frameKey, (times.inclusive.get(frameKey) ?? 0) + us);
    }
  }
  return times;
}

const largest = (times: Map<string, number>, n: number): [string, number][] => [...times.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);

/** The `top` functions by self and by inclusive time of busy (non-idle) CPU. */
export async function rankProfile(file: string, top = 12): Promise<string> {
  const root = projectRoot();
  const label = ({ functionName, url, lineNumber }: CallFrame): string => {
    let where = url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '');
    if (where.startsWith('node:')) where = where.slice(5);
    return `${functionName || '(anonymous)'}${where ? ` (${where}:${lineNumber + 1})` : ''}`;
  };
  const times = timesBy(
    await readProfile(file),
    label,
    (key) => key.startsWith('(idle)'),
    (key) => key.startsWith('(root)'),
  );
  const pct = (us: number): string => `${((100 * us) / times.totalUs).toFixed(1)}%`;
  const rank = (m: Map<string, number>): string[][] => largest(m, top).map(([name, us]) => [`\`${name}\``, pct(us), `${(us / 1000).toFixed(0)} ms`]);
  return [
    `Busy CPU in the profile: ${(times.totalUs / 1e6).toFixed(1)} s.`,
    '',
    markdownTable(['function (self time)', 'share', 'time'], rank(times.self)),
    '',
    markdownTable(
      ['function (inclusive)', 'share', 'time'],
      rank(times.inclusive).filter((r) => !/^`\((garbage collector|program)\)/.test(r[0] ?? '')),
    ),
  ].join('\n');
}

/** Self time by area, and the `top` functions by self and by inclusive time, of all samples (idle included). */
export async function profileByArea(file: string, top = 25): Promise<string> {
  const root = projectRoot();
  const profile = await readProfile(file);
  const label = ({ functionName, url, lineNumber }: CallFrame): string => {
    const where = url ? `${shorten(url, root)}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };
  const functions = timesBy(profile, label);
  const areas = timesBy(profile, areaOf);
  const pct = (us: number): string => `${((100 * us) / Math.max(1, functions.totalUs)).toFixed(1)}%`;
  const rows = (map: Map<string, number>, n: number): string[] =>
    largest(map, n).map(([name, us]) => `| ${pct(us)} | ${(us / 1000).toFixed(0)} | \`${name.replace(/\|/g, '\\|')}\` |`);
  const table = (title: string, column: string, lines: string[]): string[] => [title, '', `| share | ms | ${column} |`, '|---:|---:|---|', ...lines, ''];
  return [
    `Profile: ${shorten(file, root)} (${(functions.totalUs / 1e6).toFixed(1)} s of samples)`,
    '',
    ...table('### Self time by area', 'area', rows(areas.self, 20)),
    ...table(`### Top ${top} functions by self time`, 'function', rows(functions.self, top)),
    ...table(`### Top ${top} functions by inclusive time`, 'function', rows(functions.inclusive, top)),
  ].join('\n');
}

/** A path relative to the project, or from node_modules/ on. */
function shorten(url: string, root: string): string {
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm !== -1) return file.slice(nm + 1);
  if (file.startsWith(root)) return path.relative(root, file);
  return file;
}

function areaOf({ functionName, url }: CallFrame): string {
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
