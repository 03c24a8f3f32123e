// Controller scale: N rollouts at once, on N endpoints, driven by one worker
// against one Temporal dev server and one router. Blue and green of every
// endpoint are `upstreams` deployments pointing at two shared fast upstream
// processes (not N processes); a light load (6 req/s per endpoint) is
// spread over the endpoints so that gates can decide (minRequests 5).
// Reports the time each step takes beyond its configured bake, the gate
// tick's activity round trip (measureWindows: scheduled -> picked up ->
// completed, from the workflow histories' server timestamps), and the
// worker's peak RSS (the worker runs in its own process).
//
//   node dist/bench/controller-scale.js [--sizes 10,50] [--full (adds 200)] [--max N] [--interval-ms 1000]
//        [--per-endpoint-rate 6] [--profile-router (node --cpu-prof on the router, ranked in the report)]
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import type { PolicyStep } from '../policies/types.js';
import { rolloutResult, type RolloutHandle } from '../cli/follow-rollout.js';
import type { RolloutResult } from '../workflows/types.js';
import { newestProfile, rankProfile } from './lib/cpu-profile.js';
import { log } from './lib/log.js';
import { SteadyLoad, describeFailures, summarize } from './lib/load.js';
import { cpuMs, machineCpuMs, selfCpuMs } from './lib/proc-stat.js';
import { runBench } from './lib/processes.js';
import { OUT_DIR, machineLine, markdownTable, writeReport } from './lib/report.js';
import { createEndpointWithBlue, startRouterProcess } from './lib/router-process.js';
import { fmt, median, ms, percentile, seconds } from './lib/stats.js';
import { activityTimings, benchPolicy, connectClient, startDevServer, startWorkerProcess, withTimeout, type ActivityTiming } from './lib/temporal.js';
import { startRollout } from '../cli/start-rollout.js';
import { startUpstreamProcess } from './lib/upstream-process.js';

const BAKE_MS = 4_000;
const STEPS: PolicyStep[] = [
  { kind: 'create' },
  { kind: 'smoke', requests: 1, path: '/score', method: 'POST', body: { x: 1 }, headers: {}, expectStatus: 200, timeoutMs: 5_000 },
  { kind: 'mirror', percent: 50, forMs: BAKE_MS },
  { kind: 'traffic', percent: 50, forMs: BAKE_MS },
  { kind: 'traffic', percent: 100, forMs: BAKE_MS },
  { kind: 'deleteBlue', afterMs: 0 },
];
const STEP_LABELS = [
  'create',
  'smoke',
  `mirror 50% (${BAKE_MS / 1000} s)`,
  `traffic 50% (${BAKE_MS / 1000} s)`,
  `traffic 100% (${BAKE_MS / 1000} s)`,
  'delete blue',
];

interface SizeResult {
  n: number;
  promoted: number;
  rolledBack: number;
  reasons: string[];
  wallMs: number;
  startMs: number;
  /** Per step index: (duration - configured bake) of every rollout. */
  overheadByStep: number[][];
  measure: ActivityTiming[];
  otherActivities: ActivityTiming[];
  workerRssPeak: number;
  cpu: { router: number; worker: number; temporal: number; bench: number; upstreams: number; machineBusy: number };
  load: ReturnType<typeof summarize>;
}

runBench('bench:scale', async () => {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      full: { type: 'boolean' },
      max: { type: 'string' },
      'per-endpoint-rate': { type: 'string' },
      'interval-ms': { type: 'string' },
      'profile-router': { type: 'boolean' },
    },
  });
  let sizes = (values.sizes ?? (values.full ? '10,50,200' : '10,50'))
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  if (values.max) sizes = sizes.filter((n) => n <= Number(values.max));
  const perEndpointRate = Number(values['per-endpoint-rate'] ?? 6);
  const intervalMs = Number(values['interval-ms'] ?? 1_000);
  const profileDir = path.join(OUT_DIR, 'scale-router-profile');
  if (values['profile-router']) await mkdir(profileDir, { recursive: true });
  const started = Date.now();

  const [dev, router, blueServer, greenServer] = await Promise.all([
    startDevServer(),
    startRouterProcess(values['profile-router'] ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
    startUpstreamProcess('blue upstream', { kind: 'fast' }),
    startUpstreamProcess('green upstream', { kind: 'fast' }),
  ]);
  const client = await connectClient(dev.address);
  const taskQueue = `bench-scale-${process.pid}`;
  const worker = await startWorkerProcess(dev.address, router, taskQueue);
  const policy = benchPolicy('bench-scale', STEPS, { minRequests: 5, intervalMs, p95Ms: 250, errorRate: 0.01 });

  const results: SizeResult[] = [];
  for (const n of sizes) {
    const names = Array.from({ length: n }, (_, i) => `scale${n}-${i}`);
    log(`N=${n}: creating ${n} endpoints`);
    const keys = await inBatches(names, 8, (name) => createEndpointWithBlue(router.admin, name, { upstreams: [blueServer.url] }));
    const load = new SteadyLoad({
      ratePerSec: perEndpointRate * n,
      targets: names.map((endpoint, i) => ({ dataUrl: router.dataUrl, endpoint, key: keys[i] ?? '' })),
      connections: 64,
    }).start();
    await sleep(1_000);
    worker.resetPeak();
    const upstreamCpu = (): number => cpuMs(blueServer.child.pid) + cpuMs(greenServer.child.pid);
    const cpu0 = {
      router: cpuMs(router.child.pid),
      worker: cpuMs(worker.child.pid),
      temporal: cpuMs(dev.child.pid ?? 0),
      bench: selfCpuMs(),
      upstreams: upstreamCpu(),
      machine: machineCpuMs(),
    };

    const t0 = Date.now();
    const handles: WorkflowHandle[] = await inBatches(names, 25, (name) =>
      startRollout(
        client,
        { endpoint: name, policy, green: { name: 'green', instanceCount: 1, source: { upstreams: [greenServer.url] } }, blue: 'blue', policySource: 'bench' },
        { taskQueue },
      ),
    );
    const startMs = Date.now() - t0;
    log(`N=${n}: ${n} rollouts started in ${startMs} ms`);
    const outcomes: RolloutResult[] = await withTimeout(
      Promise.all(handles.map((h) => rolloutResult(h as RolloutHandle))),
      60_000 + n * 3_000,
      `N=${n}: the rollouts' results`,
    );
    const wallMs = Date.now() - t0;
    const machine = machineCpuMs();
    const cpu = {
      router: cpuMs(router.child.pid) - cpu0.router,
      worker: cpuMs(worker.child.pid) - cpu0.worker,
      temporal: cpuMs(dev.child.pid ?? 0) - cpu0.temporal,
      bench: selfCpuMs() - cpu0.bench,
      upstreams: upstreamCpu() - cpu0.upstreams,
      machineBusy: (machine.busy - cpu0.machine.busy) / (machine.total - cpu0.machine.total),
    };
    const stats = await worker.stats();
    await load.pause();
    const loadSummary = summarize(load.samples);
    await load.stop();

    const overheadByStep: number[][] = STEPS.map(() => []);
    for (const result of outcomes) {
      if (result.outcome !== 'promoted') continue;
      const entries = result.decisions.filter((d) => d.kind === 'step' && d.message.startsWith('step '));
      const done = result.decisions.find((d) => d.kind === 'done');
      entries.forEach((entry, i) => {
        const end = entries[i + 1]?.atMs ?? done?.atMs;
        const step = STEPS[entry.step];
        if (end === undefined || !step) return;
        const bake = step.kind === 'mirror' || step.kind === 'traffic' ? step.forMs : 0;
        overheadByStep[entry.step]?.push(end - entry.atMs - bake);
      });
    }
    const timings = (await inBatches(handles, 20, (h) => activityTimings(h))).flat();
    const promoted = outcomes.filter((o) => o.outcome === 'promoted').length;
    const result: SizeResult = {
      n,
      promoted,
      rolledBack: n - promoted,
      reasons: [...new Set(outcomes.filter((o) => o.outcome !== 'promoted').map((o) => o.reason.slice(0, 140)))].slice(0, 3),
      wallMs,
      startMs,
      overheadByStep,
      measure: timings.filter((t) => t.name === 'measureWindows'),
      otherActivities: timings.filter((t) => t.name !== 'measureWindows'),
      workerRssPeak: stats.rssPeakBytes,
      cpu,
      load: loadSummary,
    };
    results.push(result);
    log(
      `N=${n}: ${promoted} promoted, ${n - promoted} rolled back in ${seconds(wallMs)}; measureWindows p50 ${ms(median(result.measure.map((t) => t.totalMs)))} p95 ${ms(
        percentile(
          result.measure.map((t) => t.totalMs),
          0.95,
        ),
      )}; worker peak RSS ${fmt(stats.rssPeakBytes / 1048576)} MiB; clients ${describeFailures(loadSummary)}`,
    );
    await inBatches(names, 8, (name) => router.admin.deleteEndpoint(name).catch(() => undefined));
  }

  const idealMs = STEPS.reduce((a, s) => a + (s.kind === 'mirror' || s.kind === 'traffic' ? s.forMs : 0), 0);
  const summaryRows = results.map((r) => {
    const bakeOverheads = r.overheadByStep.filter((_, i) => STEPS[i]?.kind === 'mirror' || STEPS[i]?.kind === 'traffic').flat();
    const allOverheads = r.overheadByStep.flat();
    const totals = r.measure.map((t) => t.totalMs);
    return [
      String(r.n),
      `${r.promoted} / ${r.rolledBack}`,
      seconds(r.wallMs),
      seconds(idealMs),
      `${ms(median(bakeOverheads))} / ${ms(percentile(bakeOverheads, 0.95))}`,
      `${ms(median(allOverheads))} / ${ms(percentile(allOverheads, 0.95))}`,
      `${ms(median(totals))} / ${ms(percentile(totals, 0.95))}`,
      `${ms(median(r.measure.map((t) => t.queueMs)))} / ${ms(
        percentile(
          r.measure.map((t) => t.queueMs),
          0.95,
        ),
      )}`,
      fmt(r.measure.length),
      `${fmt(r.workerRssPeak / 1048576)} MiB`,
      `${fmt(r.cpu.worker / r.wallMs, 2)} / ${fmt(r.cpu.router / r.wallMs, 2)} / ${fmt(r.cpu.temporal / r.wallMs, 2)} / ${fmt(r.cpu.bench / r.wallMs, 2)} / ${fmt(r.cpu.upstreams / r.wallMs, 2)}`,
      `${fmt(100 * r.cpu.machineBusy, 0)}%`,
      `${fmt(r.load.sent)}, ${describeFailures(r.load)}, p99 ${ms(r.load.p99)}`,
    ];
  });
  const stepRows = STEPS.map((_, i) => [
    STEP_LABELS[i] ?? '',
    ...results.map((r) => `${ms(median(r.overheadByStep[i] ?? []))} / ${ms(percentile(r.overheadByStep[i] ?? [], 0.95))}`),
  ]);
  const reasons = results.filter((r) => r.reasons.length > 0).map((r) => `N=${r.n} rollbacks: ${r.reasons.join(' | ')}`);
  const md = [
    `## Controller scale (${new Date().toISOString()})`,
    '',
    machineLine(),
    `One Temporal dev server, one \`saferoll router\` process, one saferoll worker process (default worker options), all on this machine. N rollouts started at once on N endpoints; blue and green of each are \`upstreams\` deployments pointing at two shared fast upstream processes of this bench. Load: ${perEndpointRate} req/s per endpoint, open loop. Policy: create, smoke (1 request), mirror 50%, 50%, 100% for ${BAKE_MS / 1000} s each, delete blue; interval ${intervalMs / 1000} s, minRequests 5. "beyond bake" = a step's duration (from the workflow's decision times) minus its configured bake; the gate round trip is measureWindows from ActivityTaskScheduled to ActivityTaskCompleted in the histories (queue = scheduled -> started). CPU in cores (1.00 = one core busy) over the run, from /proc; "load generator" is this bench's own process; "machine busy" is the share of all cores busy, whoever used them. Sizes run: ${sizes.join(', ')}${values.full ? '' : ' (200 with --full)'}. Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(
      [
        'N',
        'promoted / rolled back',
        'wall time, all N',
        'configured bakes',
        'bake step beyond bake p50 / p95',
        'any step beyond bake p50 / p95',
        'gate tick (measureWindows) p50 / p95',
        'of which queue wait p50 / p95',
        'gate ticks',
        'worker peak RSS',
        'CPU cores: worker / router / temporal / load generator / upstreams',
        'machine busy',
        'client requests, failures, p99',
      ],
      summaryRows,
    ),
    '',
    markdownTable(['step: time beyond bake, p50 / p95', ...results.map((r) => `N=${r.n}`)], stepRows),
    ...(reasons.length > 0 ? ['', ...reasons] : []),
  ].join('\n');
  let profile = '';
  if (values['profile-router']) {
    await router.stop(); // the profile is written when the router exits
    const file = await newestProfile(profileDir);
    if (file) profile = ['', '', `### Router CPU profile during the run (\`${path.relative(process.cwd(), file)}\`)`, '', await rankProfile(file)].join('\n');
  }
  await writeReport(values['profile-router'] ? 'controller-scale-profile' : 'controller-scale', md + profile);
});

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
