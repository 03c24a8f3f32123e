// Unloaded latency probe: one connection, one request at a time (wrk -t1
// -c1), against direct -> upstream, nginx, the plain undici proxy and the
// saferoll router, in interleaved rounds, with the whole tail of each run
// (p50 .. p99.99, max) rather than one p99. With --trace-gc every Node
// process runs under `node --trace-gc` and each run also reports the young-
// generation collections (scavenges) each process made: how many per 1,000
// requests and how long they paused it, the evidence for or against GC as the
// cause of a tail.
//
//   npm run bench:unloaded [-- --rounds 5 --duration 5 --trace-gc --router-flags="--max-semi-space-size=16"]
//
// Each run also reports, per request, the CPU time of the proxy and the time
// it (and the upstream) spent runnable but waiting for a CPU (schedstat): on
// a shared machine that wait, not the proxy, is most of an unloaded p99.
// (Running the chain under SCHED_FIFO to keep other processes out shows the
// same more directly, but Node under SCHED_FIFO on 2 cores can livelock with
// its own helper threads and starve the machine: it is not an option here.)
//
// --router-flags and --router-b add a second router, started with only the
// node flags given (not router/node-flags.ts's) and with another build if
// asked: A/B of flags or builds in the same interleaved rounds.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AdminClient } from '../router/client.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import { startNginx, startPlainProxy } from './lib/baseline-proxies.js';
import { intOption } from './lib/int-option.js';
import { log } from './lib/log.js';
import { childPids } from './lib/proc-stat.js';
import { onCleanup, runBench, startChild, type TrackedChild } from './lib/processes.js';
import { OUT_DIR, markdownTable } from './lib/report.js';
import { ROUTER_NODE_FLAGS } from '../router/node-flags.js';
import { createEndpointWithBlue, startRouterProcess } from './lib/router-process.js';
import { median } from './lib/stats.js';
import { startModelServer } from './lib/upstream-process.js';

const REQUEST_BODY = JSON.stringify({ inputs: [[0.12, 0.5, 3.1, 0.07, 1.9, 0.33, 2.4, 0.81]] });
const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;
const TAG = 'WRK_TAIL';
const USAGE = `Usage: npm run bench:unloaded [-- options]

  --rounds <n>            interleaved rounds (default 5)
  --duration <s>          wrk -c1 run per variant and round (default 5)
  --trace-gc              run every Node process with --trace-gc and count its scavenges per run
  --router-flags=<flags>  also run a second router, started with these node flags only (not router/node-flags.ts's)
  --router-b <main.js>    also run a second router: that build's (e.g. another checkout's dist/cli/main.js), started
                          with --router-flags only; --router-b dist/cli/main.js measures router/node-flags.ts's flags
  --syscalls              afterwards, count each Node proxy's syscalls per request (strace -c -f, one 3 s run each)
`;

interface Tail {
  requests: number;
  /** By PERCENTILES, then max, in ms. */
  ms: number[];
  maxMs: number;
}

/** Young-generation pauses of one process during one run. */
interface GcCount {
  scavenges: number;
  pauseMs: number;
  maxPauseMs: number;
}

interface Variant {
  id: string;
  label: string;
  url: string;
  /** The Node proxy's pid (its main thread is the JS thread; strace'd with --syscalls). */
  nodePid?: number;
  /** Threads whose scheduling is measured per run: the proxy's (nginx's workers, a Node proxy's JS thread) and the upstream's JS thread. */
  sched: { proxy: () => number[]; upstream: () => number[] };
  /** Per run, per request: µs on a CPU and µs runnable but waiting for one (the proxy's; the upstream's wait). */
  proxyCpuUs: number[];
  proxyWaitUs: number[];
  upstreamWaitUs: number[];
  /** Node processes on this variant's path whose GC is counted (with --trace-gc). */
  gc: { name: string; trace: GcTrace }[];
  runs: Tail[];
  gcRuns: Record<string, GcCount[]>;
}

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      'trace-gc': { type: 'boolean', default: false },
      'router-flags': { type: 'string', default: '' },
      'router-b': { type: 'string', default: '' },
      syscalls: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    rounds: intOption('rounds', values.rounds, 1),
    durationS: intOption('duration', values.duration, 1),
    traceGc: values['trace-gc'],
    routerFlags: values['router-flags'].split(/\s+/).filter((f) => f !== ''),
    routerB: values['router-b'],
    syscalls: values.syscalls,
  };
}

/** Counts the scavenges a `node --trace-gc` process prints on stdout, from a mark on. */
class GcTrace {
  private scavenges = 0;
  private pauseMs = 0;
  private maxPauseMs = 0;

  constructor(child: TrackedChild) {
    let pending = '';
    child.proc.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      // e.g. "[123:0x5f..]   2041 ms: Scavenge 5.1 (6.2) -> 4.3 (7.2) MB, 0.61 / 0.00 ms  (average mu = ...) allocation failure;"
      for (const line of lines) {
        const m = /: Scavenge\b.*?MB, ([\d.]+) \//.exec(line);
        if (!m) continue;
        const pause = Number(m[1]);
        this.scavenges++;
        this.pauseMs += pause;
        if (pause > this.maxPauseMs) this.maxPauseMs = pause;
      }
    });
  }

  /** The counts since the last call. */
  take(): GcCount {
    const out = { scavenges: this.scavenges, pauseMs: this.pauseMs, maxPauseMs: this.maxPauseMs };
    this.scavenges = 0;
    this.pauseMs = 0;
    this.maxPauseMs = 0;
    return out;
  }
}

async function writeScript(dir: string, name: string, key: string): Promise<string> {
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(REQUEST_BODY)}`,
    'wrk.headers["Content-Type"] = "application/json"',
    `wrk.headers["Authorization"] = "Bearer ${key}"`,
    'done = function(summary, latency, requests)',
    `  io.write("${TAG} " .. summary.requests)`,
    ...PERCENTILES.map((p) => `  io.write(string.format(" %.0f", latency:percentile(${p})))`),
    '  io.write(string.format(" %.0f\\n", latency.max))',
    'end',
  ];
  const file = path.join(dir, `${name}.lua`);
  await writeFile(file, `${lua.join('\n')}\n`);
  return file;
}

/**
 * Nanoseconds the main threads of these processes spent on a CPU and runnable
 * but waiting for one, so far (/proc/<pid>/task/<pid>/schedstat: the
 * scheduler's own exact sums, not sampled ticks).
 */
function schedStat(pids: number[]): { cpuNs: number; waitNs: number } {
  let cpuNs = 0;
  let waitNs = 0;
  for (const pid of pids) {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number) as number[];
    cpuNs += cpu ?? Number.NaN;
    waitNs += wait ?? Number.NaN;
  }
  return { cpuNs, waitNs };
}

async function runOnce(url: string, script: string, durationS: number): Promise<Tail> {
  const args = ['-t', '1', '-c', '1', '-d', `${durationS}s`, '--timeout', '10s', '-s', script, url];
  const { child } = await startChild('wrk', 'wrk', args);
  const code = await child.exited;
  const line = child
    .output()
    .split('\n')
    .find((l) => l.startsWith(TAG));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${child.output()}`);
  const [requests, ...us] = line.slice(TAG.length).trim().split(/\s+/).map(Number) as number[];
  const ms = us.map((u) => u / 1000);
  return { requests: requests ?? 0, ms: ms.slice(0, PERCENTILES.length), maxMs: ms[PERCENTILES.length] ?? Number.NaN };
}

/** Syscalls per request, by name, of a process (all threads) over one 3 s wrk -c1 run under strace -c. */
async function syscallsPerRequest(pid: number, url: string, script: string, dir: string): Promise<{ total: number; perRequest: Map<string, number> }> {
  const file = path.join(dir, `strace-${pid}.txt`);
  const { child: strace } = await startChild('strace', 'strace', ['-c', '-f', '-o', file, '-p', String(pid)]);
  await new Promise((resolve) => setTimeout(resolve, 500)); // attached to every thread
  const tail = await runOnce(url, script, 3);
  process.kill(strace.pid, 'SIGINT');
  await strace.exited;
  const perRequest = new Map<string, number>();
  let total = 0;
  // "% time  seconds  usecs/call  calls  errors syscall" rows; errors may be blank.
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (!m || m[2] === 'total') continue;
    const n = Number(m[1]) / tail.requests;
    perRequest.set(m[2] as string, n);
    total += n;
  }
  return { total, perRequest };
}

async function configure(admin: AdminClient, blueUrl: string): Promise<string> {
  const key = await createEndpointWithBlue(admin, 'bench', { upstreams: [blueUrl] });
  await waitSucceeded(admin, 'bench', 'blue', { timeoutMs: 30_000 });
  return key;
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'saferoll-unloaded-'));
  onCleanup('temp dir', () => rm(tmp, { recursive: true, force: true }));
  const nodeFlags = opts.traceGc ? ['--trace-gc'] : [];
  log(
    `machine: ${os.cpus().length} cores, node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const blue = await startModelServer('blue', nodeFlags);
  const [nginx, plain, router, flagged] = await Promise.all([
    startNginx(blue.url, path.join(tmp, 'nginx')),
    startPlainProxy(blue.url, nodeFlags),
    startRouterProcess({ nodeFlags }),
    opts.routerFlags.length > 0 || opts.routerB !== ''
      ? startRouterProcess({
          name: 'router-b',
          bareNode: true,
          nodeFlags: [...nodeFlags, ...opts.routerFlags],
          ...(opts.routerB !== '' ? { cliMain: path.resolve(opts.routerB) } : {}),
        })
      : undefined,
  ]);
  const key = await configure(router.admin, blue.url);
  const flaggedKey = flagged ? await configure(flagged.admin, blue.url) : '';
  const upstreamGc = opts.traceGc ? { name: 'upstream', trace: new GcTrace(blue.child) } : undefined;
  const traced = (name: string, child: TrackedChild) => (opts.traceGc ? [upstreamGc!, { name, trace: new GcTrace(child) }] : []);
  const variant = (id: string, label: string, url: string, gc: Variant['gc'], proxy: () => number[], nodePid?: number): Variant => ({
    id,
    label,
    url,
    gc,
    nodePid,
    sched: { proxy, upstream: () => [blue.child.pid] },
    proxyCpuUs: [],
    proxyWaitUs: [],
    upstreamWaitUs: [],
    runs: [],
    gcRuns: {},
  });
  const scorePath = '/bench/score';
  const variants: Variant[] = [
    variant('direct', 'direct to upstream', `${blue.url}${scorePath}`, upstreamGc ? [upstreamGc] : [], () => []),
    variant('nginx', 'nginx keep-alive proxy', `${nginx.url}${scorePath}`, upstreamGc ? [upstreamGc] : [], () => childPids(nginx.child.pid)),
    variant('plain', 'plain undici proxy', `${plain.url}${scorePath}`, traced('proxy', plain.child), () => [plain.child.pid], plain.child.pid),
    variant(
      'router',
      `saferoll router, node ${ROUTER_NODE_FLAGS.join(' ')}`,
      `${router.dataUrl}${scorePath}`,
      traced('proxy', router.child),
      () => [router.child.pid],
      router.child.pid,
    ),
  ];
  if (flagged)
    variants.push(
      variant(
        'router-b',
        `saferoll router${opts.routerB !== '' ? ` (${opts.routerB})` : ''}, node ${opts.routerFlags.length > 0 ? opts.routerFlags.join(' ') : 'without flags'}`,
        `${flagged.dataUrl}${scorePath}`,
        traced('proxy', flagged.child),
        () => [flagged.child.pid],
        flagged.child.pid,
      ),
    );
  const script = await writeScript(tmp, 'router', key);
  const flaggedScript = flagged ? await writeScript(tmp, 'router-b', flaggedKey) : '';
  const scriptOf = (v: Variant): string => (v.id === 'router-b' ? flaggedScript : script);

  log('warm-up: 2 s per variant');
  for (const v of variants) await runOnce(v.url, scriptOf(v), 2);
  for (let round = 0; round < opts.rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
    for (const v of order) {
      for (const g of v.gc) g.trace.take();
      const proxyThreads = v.sched.proxy();
      const upstreamThreads = v.sched.upstream();
      const proxyBefore = schedStat(proxyThreads);
      const upstreamBefore = schedStat(upstreamThreads);
      const tail = await runOnce(v.url, scriptOf(v), opts.durationS);
      v.runs.push(tail);
      const proxyAfter = schedStat(proxyThreads);
      const upstreamAfter = schedStat(upstreamThreads);
      const perRequestUs = (ns: number): number => ns / 1000 / tail.requests;
      if (proxyThreads.length > 0) {
        v.proxyCpuUs.push(perRequestUs(proxyAfter.cpuNs - proxyBefore.cpuNs));
        v.proxyWaitUs.push(perRequestUs(proxyAfter.waitNs - proxyBefore.waitNs));
      }
      v.upstreamWaitUs.push(perRequestUs(upstreamAfter.waitNs - upstreamBefore.waitNs));
      const gcText: string[] = [];
      for (const g of v.gc) {
        const count = g.trace.take();
        (v.gcRuns[g.name] ??= []).push(count);
        gcText.push(
          `${g.name} ${count.scavenges} scavenges (${((1000 * count.scavenges) / tail.requests).toFixed(2)}/1k req, max ${count.maxPauseMs.toFixed(2)} ms)`,
        );
      }
      log(
        `round ${round + 1}/${opts.rounds} ${v.id.padEnd(12)} ${tail.requests} req  ` +
          PERCENTILES.map((p, i) => `p${p} ${(tail.ms[i] ?? Number.NaN).toFixed(3)}`).join(' ') +
          `  max ${tail.maxMs.toFixed(2)} ms` +
          (v.proxyCpuUs.length > 0
            ? `  proxy ${(v.proxyCpuUs.at(-1) ?? 0).toFixed(0)} us CPU, ${(v.proxyWaitUs.at(-1) ?? 0).toFixed(1)} us run-queue wait /req`
            : '') +
          `  upstream wait ${(v.upstreamWaitUs.at(-1) ?? 0).toFixed(1)} us/req` +
          (gcText.length > 0 ? `  | ${gcText.join(', ')}` : ''),
      );
    }
  }

  const rows = variants.map((v) => [
    v.label,
    Math.round(median(v.runs.map((r) => r.requests))).toLocaleString('en-US'),
    ...PERCENTILES.map((_, i) => median(v.runs.map((r) => r.ms[i] ?? Number.NaN)).toFixed(3)),
    median(v.runs.map((r) => r.maxMs)).toFixed(2),
    v.runs.map((r) => (r.ms[2] ?? Number.NaN).toFixed(2)).join(' / '),
    v.proxyCpuUs.length > 0 ? median(v.proxyCpuUs).toFixed(0) : '-',
    v.proxyWaitUs.length > 0 ? median(v.proxyWaitUs).toFixed(1) : '-',
    median(v.upstreamWaitUs).toFixed(1),
    ...(opts.traceGc
      ? [
          Object.entries(v.gcRuns)
            .map(([name, runs]) => {
              const scav = runs.reduce((n, r) => n + r.scavenges, 0);
              const requests = v.runs.reduce((n, r) => n + r.requests, 0);
              const pause = runs.reduce((n, r) => n + r.pauseMs, 0);
              return `${name} ${((1000 * scav) / requests).toFixed(2)}/1k req, ${scav > 0 ? (pause / scav).toFixed(2) : '-'} ms avg`;
            })
            .join('; '),
        ]
      : []),
  ]);
  const syscallText: string[] = [];
  if (opts.syscalls)
    for (const v of variants) {
      if (v.nodePid === undefined) continue;
      const counts = await syscallsPerRequest(v.nodePid, v.url, scriptOf(v), tmp);
      const top = [...counts.perRequest].sort((a, b) => b[1] - a[1]).filter(([, n]) => n >= 0.01);
      const line = `${v.label}: ${counts.total.toFixed(2)} syscalls per request (${top.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')})`;
      log(line);
      syscallText.push(`- ${line}`);
    }
  const report = [
    `## Unloaded latency (${new Date().toISOString()})`,
    '',
    `${os.cpus().length} cores, node ${process.version}, loopback; wrk -t1 -c1 -d${opts.durationS}s per variant and round, ${opts.rounds} interleaved rounds, medians of the rounds (ms).` +
      (opts.traceGc ? ' Every Node process under --trace-gc.' : ''),
    '',
    markdownTable(
      [
        'variant',
        'requests/run',
        ...PERCENTILES.map((p) => `p${p}`),
        'max',
        'p99 per round',
        'proxy µs CPU/req',
        'proxy µs waiting for a CPU/req',
        'upstream µs waiting for a CPU/req',
        ...(opts.traceGc ? ['scavenges (per 1k requests, mean pause)'] : []),
      ],
      rows,
    ),
    '',
    'proxy µs CPU/req: CPU time of the proxy (a Node proxy: its JS thread) per request; µs waiting for a CPU: time runnable but not running ' +
      '(/proc/<pid>/task/<pid>/schedstat): other processes on the machine in the way.',
    ...(syscallText.length > 0
      ? ['', 'Syscalls per request of each Node proxy (strace -c -f over one wrk -c1 run; strace slows the process, the counts stay):', '', ...syscallText]
      : []),
  ].join('\n');
  process.stdout.write(`\n${report}\n`);
  await mkdir(OUT_DIR, { recursive: true });
  await writeFile(path.join(OUT_DIR, 'unloaded-latency.md'), `${report}\n`);
  await router.admin.close();
  await flagged?.admin.close();
}

runBench('bench:unloaded', main);
