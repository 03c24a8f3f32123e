// `npm run bench`: runs every benchmark, one process each, one after the
// other (they would disturb each other's timings side by side), and gathers
// their markdown into bench/out/bench.md. Progress goes to stderr.
//
//   node dist/bench/run-all.js [--only mirror,traffic] [--skip router] [--full]
//
// --full lets the controller-scale bench run 200 concurrent rollouts too.
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OUT_DIR, machineLine, markdownTable } from './lib/report.js';

interface Bench {
  id: string;
  title: string;
  file: string;
  /** The markdown it writes in bench/out/. */
  out: string;
  args?: string[];
}

const BENCHES: Bench[] = [
  { id: 'router', title: 'Router overhead', file: 'router-overhead.js', out: 'router-overhead.md' },
  { id: 'unloaded', title: 'Unloaded latency', file: 'unloaded-latency.js', args: ['--trace-gc'], out: 'unloaded-latency.md' },
  { id: 'mirror', title: 'Mirror isolation', file: 'mirror-isolation.js', out: 'mirror-isolation.md' },
  { id: 'traffic', title: 'Traffic changes under load', file: 'traffic-changes.js', out: 'traffic-changes.md' },
  { id: 'fleet', title: 'Traffic change to every Envoy', file: 'envoy-propagation.js', out: 'envoy-propagation.md' },
  { id: 'metrics', title: 'Metrics cost', file: 'metrics-cost.js', out: 'metrics-cost.md' },
  { id: 'breach', title: 'Breach to rollback', file: 'breach-to-rollback.js', out: 'breach-to-rollback.md' },
  { id: 'promotion', title: 'Zero-loss promotion', file: 'zero-loss-promotion.js', out: 'zero-loss-promotion.md' },
  { id: 'scale', title: 'Controller scale', file: 'controller-scale.js', out: 'controller-scale.md' },
];

const here = path.dirname(fileURLToPath(import.meta.url));

function run(bench: Bench, extra: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(here, bench.file), ...(bench.args ?? []), ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.once('error', () => resolve(1));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, skip: { type: 'string' }, full: { type: 'boolean' } } });
  const only = values.only?.split(',');
  const skip = values.skip?.split(',') ?? [];
  const chosen = BENCHES.filter((b) => (!only || only.includes(b.id)) && !skip.includes(b.id));
  await mkdir(OUT_DIR, { recursive: true });
  const started = Date.now();
  const outcomes: { bench: Bench; code: number; seconds: number; markdown: string | undefined }[] = [];
  for (const bench of chosen) {
    const t0 = Date.now();
    process.stderr.write(`\n[bench] ==> ${bench.title} (${bench.file})\n`);
    const code = await run(bench, bench.id === 'scale' && values.full ? ['--full'] : []);
    const file = path.join(OUT_DIR, bench.out);
    // Only what this run wrote: a failed bench must not show an older table.
    const fresh = await stat(file).then(
      (s) => s.mtimeMs >= t0,
      () => false,
    );
    const markdown = fresh ? await readFile(file, 'utf8') : undefined;
    const seconds = (Date.now() - t0) / 1000;
    outcomes.push({ bench, code, seconds, markdown });
    process.stderr.write(`[bench] <== ${bench.title}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${seconds.toFixed(0)} s\n`);
  }
  const total = (Date.now() - started) / 1000;
  const summary = markdownTable(
    ['bench', 'command', 'result', 'took'],
    outcomes.map((o) => [
      o.bench.title,
      `node dist/bench/${o.bench.file}`,
      o.code === 0 ? 'ok' : `FAILED (exit ${o.code})${o.markdown ? '' : ', no table'}`,
      `${o.seconds.toFixed(0)} s`,
    ]),
  );
  const text = [
    `# saferoll benchmarks (${new Date().toISOString()})`,
    '',
    machineLine(),
    `All benches ran one after the other in ${Math.round(total)} s. Every comparison is measured side by side in the same run; absolute times depend on this machine and on whatever else ran on it.`,
    '',
    summary,
    '',
    ...outcomes.flatMap((o) =>
      o.markdown ? [o.markdown.trim(), ''] : [`## ${o.bench.title}`, '', `No result: the bench failed (exit ${o.code}); see its output above.`, ''],
    ),
  ].join('\n');
  const file = path.join(OUT_DIR, 'bench.md');
  await writeFile(file, text);
  process.stderr.write(`\n[bench] all done in ${Math.round(total)} s: ${path.relative(process.cwd(), file)}\n`);
  return outcomes.every((o) => o.code === 0) ? 0 : 1;
}

process.exitCode = await main();
