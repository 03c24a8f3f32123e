// Breach to rollback: how long from the moment green goes bad to the failing
// gate decision and to blue 100% again, and what clients saw meanwhile.
//
// A real Temporal dev server, the router in its own process, the saferoll
// worker (createRolloutWorker) in a child process on a task queue of its own.
// The endpoint's blue (sample model server, 5 ms) takes a steady 100 req/s.
// A rollout with interval 1 s, minRequests 50, errorRate 1%, p95 250 ms sits
// at 10% live traffic (or at 10% mirroring) with a 10-minute bake; once its
// gate has passed at least once, every green instance is flipped at T0
// (POST /_control on each instance URL) to fail every request, to answer
// 300 ms later, or (mirroring with shadow comparison) to answer as fast and
// without errors but with every score shifted by 0.3. Measured from T0: the failing gate decision (`atMs` of the
// decision), traffic back to blue 100% with mirroring off (seen by polling
// the admin API), the 'done' decision (green deleted), and the client
// requests that failed (or were slow) in between. Repeated, medians.
//
//   node dist/bench/breach-to-rollback.js [--reps 3] [--rate 100]
import { parseArgs } from 'node:util';
import { request } from 'undici';
import type { PolicyStep } from '../policies/types.js';
import type { RolloutResult } from '../workflows/types.js';
import { log } from './lib/log.js';
import { SteadyLoad, isFailure, nowMs } from './lib/load.js';
import { runBench } from './lib/processes.js';
import { machineLine, markdownTable, writeReport } from './lib/report.js';
import { MODEL_SERVER, createEndpointWithBlue, modelServerProcess, startRouterProcess, type RouterProcess } from './lib/router-process.js';
import { fmt, median, ms, seconds, spread } from './lib/stats.js';
import { SMOKE_STEP, benchPolicy, connectClient, startDevServer, startWorkerProcess, waitForStatus, withTimeout } from './lib/temporal.js';
import { startRollout } from '../cli/start-rollout.js';
import { rolloutResult } from '../cli/follow-rollout.js';

const ENDPOINT = 'breach-bench';
const BAKE_MS = 600_000;
const SLOW_MS = 250;

interface Scenario {
  id: string;
  label: string;
  step: PolicyStep;
  control: { errorRate?: number; latencyMs?: number; predictionShift?: number };
  runs: Run[];
}

interface Run {
  gateFailedMs: number;
  trafficRestoredMs: number;
  doneMs: number;
  failedAfterT0: number;
  slowAfterT0: number;
  failedBeforeT0: number;
  sentT0ToRestore: number;
  reason: string;
}

runBench('bench:breach', async () => {
  const { values } = parseArgs({ options: { reps: { type: 'string' }, rate: { type: 'string' } } });
  const reps = Number(values.reps ?? 3);
  const rate = Number(values.rate ?? 100);
  const started = Date.now();

  const [dev, router] = await Promise.all([startDevServer(), startRouterProcess()]);
  const client = await connectClient(dev.address);
  const taskQueue = `bench-breach-${process.pid}`;
  const [worker, key] = await Promise.all([
    startWorkerProcess(dev.address, router, taskQueue),
    createEndpointWithBlue(router.admin, ENDPOINT, { process: modelServerProcess('blue', { LATENCY_MS: '5' }) }),
  ]);

  const load = new SteadyLoad({ ratePerSec: rate, targets: [{ dataUrl: router.dataUrl, endpoint: ENDPOINT, key }], connections: 32 }).start();
  const policyFor = (step: PolicyStep) =>
    benchPolicy('bench-breach', [{ kind: 'create' }, SMOKE_STEP, step], { minRequests: 50, intervalMs: 1_000, p95Ms: 250, errorRate: 0.01 });
  const scenarios: Scenario[] = [
    { id: 'err-live', label: 'errors (100%) at 10% live traffic', step: { kind: 'traffic', percent: 10, forMs: BAKE_MS }, control: { errorRate: 1 }, runs: [] },
    {
      id: 'lat-live',
      label: '+300 ms latency at 10% live traffic',
      step: { kind: 'traffic', percent: 10, forMs: BAKE_MS },
      control: { latencyMs: 300 },
      runs: [],
    },
    {
      id: 'err-mirror',
      label: 'errors (100%) while mirroring 10%',
      step: { kind: 'mirror', percent: 10, forMs: BAKE_MS },
      control: { errorRate: 1 },
      runs: [],
    },
    {
      id: 'shadow-mirror',
      label: 'different predictions (scores +0.3, as fast, no errors) while mirroring 10% with compare',
      step: {
        kind: 'mirror',
        percent: 10,
        forMs: BAKE_MS,
        // As policies/shadow-compare.yaml compares the model server's answers; minPairs as minRequests.
        compare: {
          spec: { json: { ignore: ['$.version', '$.pid'], labels: [], numeric: { tolerance: 0.01 } } },
          maxMismatch: 0.01,
          minPairs: 50,
        },
      },
      control: { predictionShift: 0.3 },
      runs: [],
    },
  ];

  for (let rep = 0; rep < reps; rep++) {
    for (const scenario of scenarios) {
      // Breaches do not wait for gate ticks: spread T0 evenly over the 1 s interval across the runs.
      const offsetMs = Math.round(((rep + 0.5) / reps) * 1_000);
      const run = await breachOnce(router, client, taskQueue, scenario, policyFor(scenario.step), load, offsetMs);
      scenario.runs.push(run);
      log(
        `${scenario.label} #${rep + 1}: gate failed +${ms(run.gateFailedMs)}, blue 100% +${ms(run.trafficRestoredMs)}, done +${ms(run.doneMs)}; client failures after T0 ${run.failedAfterT0}, slow ${run.slowAfterT0} (failures before T0: ${run.failedBeforeT0})`,
      );
    }
  }
  const samples = await load.stop();
  const workerStats = await worker.stats().catch(() => undefined);

  const rows = scenarios.map((s) => {
    const failed = s.runs.map((r) => r.failedAfterT0);
    const slow = s.runs.map((r) => r.slowAfterT0);
    const clientCell = s.id.startsWith('lat')
      ? `${fmt(median(failed))} failed, ${fmt(median(slow))} slower than ${SLOW_MS} ms`
      : `${fmt(median(failed))} failed`;
    return [
      s.label,
      seconds(median(s.runs.map((r) => r.gateFailedMs))),
      spread(
        s.runs.map((r) => r.gateFailedMs),
        (x) => fmt(x / 1000, 2),
      ),
      seconds(median(s.runs.map((r) => r.trafficRestoredMs))),
      seconds(median(s.runs.map((r) => r.doneMs))),
      clientCell,
      `${fmt(median(s.runs.map((r) => r.sentT0ToRestore)))}`,
      s.runs.map((r) => (s.id.startsWith('lat') ? `${r.failedAfterT0}+${r.slowAfterT0}` : String(r.failedAfterT0))).join(' / '),
    ];
  });
  const mirrorFailures = scenarios.filter((s) => s.id.endsWith('-mirror')).reduce((a, s) => a + s.runs.reduce((b, r) => b + r.failedAfterT0, 0), 0);
  const totalFailedBefore = scenarios.reduce((a, s) => a + s.runs.reduce((b, r) => b + r.failedBeforeT0, 0), 0);
  const worstRestore = Math.max(...scenarios.flatMap((s) => s.runs.map((r) => r.trafficRestoredMs)));
  const md = [
    `## Breach to rollback (${new Date().toISOString()})`,
    '',
    machineLine(),
    `Temporal dev server (headless), \`saferoll router\` in its own process, the saferoll worker (createRolloutWorker) in a child process. Blue: examples/model-server.mjs (5 ms), green: the same with 2 instances; both started by the router. Clients: ${rate} req/s open loop, all the time. Policy: create, smoke, then a ${BAKE_MS / 60_000}-minute bake at 10% (live or mirror); analysis interval 1 s, minRequests 50, errorRate 1%, p95 250 ms; the shadow case compares the mirror's answers with blue's (maxMismatch 1%, minPairs 50). T0 = just before the breach is switched on at every green instance (\`POST /_control\`), once the step's gate has passed at least once, plus (run + 0.5)/runs × 1 s so that breaches fall at different points of the gate interval. ${reps} runs per scenario, medians (per-run values in seconds). Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(
      [
        'breach',
        'T0 → gate Failed',
        'per run, s',
        'T0 → blue 100%, mirror off',
        'T0 → rollback done (green deleted)',
        'client requests hurt after T0 (median)',
        'requests sent T0 → blue 100%',
        'hurt per run',
      ],
      rows,
    ),
    '',
    `For comparison: a canary analysis on a 1 min interval with a failure threshold of 5 (the example in Flagger's docs: \`interval: 1m\`, \`threshold: 5\`) rolls back about 5 min after a breach, and one that needs a single failed 1 min check about 1 min; here traffic was back on blue at most ${seconds(worstRestore)} after T0 in every run. While mirroring, clients saw ${mirrorFailures} failures (goal 0). Client failures before any T0: ${totalFailedBefore}. Client requests in all: ${fmt(samples.length)}.${workerStats ? ` Worker peak RSS ${fmt(workerStats.rssPeakBytes / 1048576, 0)} MiB.` : ''}`,
  ].join('\n');
  await writeReport('breach-to-rollback', md);
});

async function breachOnce(
  router: RouterProcess,
  client: Awaited<ReturnType<typeof connectClient>>,
  taskQueue: string,
  scenario: Scenario,
  policy: ReturnType<typeof benchPolicy>,
  load: SteadyLoad,
  offsetMs: number,
): Promise<Run> {
  const admin = router.admin;
  const firstSample = load.samples.length;
  const green = {
    name: 'green',
    instanceCount: 2,
    source: { process: { command: process.execPath, args: [MODEL_SERVER], env: { MODEL_VERSION: 'green', LATENCY_MS: '5' }, readinessPath: '/healthz' } },
  };
  const handle = await startRollout(client, { endpoint: ENDPOINT, policy, green, blue: 'blue', policySource: 'bench' }, { taskQueue });
  const phase = scenario.step.kind === 'mirror' ? 'Mirror' : 'Traffic';
  await waitForStatus(handle, (s) => s.phase === phase && s.lastGate?.phase === 'Successful', `${scenario.id}: first passing gate`, 60_000);
  const instances = (await admin.getDeployment(ENDPOINT, 'green')).instances;
  await new Promise((resolve) => setTimeout(resolve, offsetMs));

  const t0 = nowMs();
  await Promise.all(
    instances.map(async (instance) => {
      const answer = await request(`${instance.url}/_control`, {
        method: 'POST',
        body: JSON.stringify(scenario.control),
        headers: { 'content-type': 'application/json' },
      });
      await answer.body.dump();
      if (answer.statusCode !== 200) throw new Error(`/_control on ${instance.url} answered ${answer.statusCode}`);
    }),
  );

  // Traffic back on blue, as the admin API reports it.
  let restoredAt = Number.NaN;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const view = await admin.getEndpoint(ENDPOINT);
    if (view.traffic.blue === 100 && Object.keys(view.mirrorTraffic).length === 0 && !('green' in view.traffic && (view.traffic.green ?? 0) > 0)) {
      restoredAt = nowMs();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const result: RolloutResult = await withTimeout(rolloutResult(handle), 120_000, `${scenario.id}: the rollout's result`);
  if (result.outcome !== 'rolled-back') throw new Error(`${scenario.id}: expected a rollback, got ${result.outcome}: ${result.reason}`);
  const failedGate = result.decisions.find((d) => d.kind === 'gate' && d.message.includes('Failed') && d.atMs >= t0 - 5);
  const done = result.decisions.find((d) => d.kind === 'done');
  // Let requests sent before the restore finish (slow ones take 300 ms).
  await new Promise((resolve) => setTimeout(resolve, 600));

  const samples = load.samples.slice(firstSample);
  const after = samples.filter((s) => s.sentAt >= t0 && s.sentAt <= restoredAt);
  return {
    gateFailedMs: (failedGate?.atMs ?? Number.NaN) - t0,
    trafficRestoredMs: restoredAt - t0,
    doneMs: (done?.atMs ?? Number.NaN) - t0,
    failedAfterT0: samples.filter((s) => s.sentAt >= t0 && isFailure(s)).length,
    slowAfterT0: samples.filter((s) => s.sentAt >= t0 && !isFailure(s) && s.latencyMs > SLOW_MS).length,
    failedBeforeT0: samples.filter((s) => s.sentAt < t0 && isFailure(s)).length,
    sentT0ToRestore: after.length,
    reason: result.reason,
  };
}
