// Zero-loss promotion: a full good rollout (create, smoke, mirror 10%,
// 10% live, 100% live, delete blue) under steady client load. Each client
// request is tagged with the rollout phase current when it was sent (from
// polling the status query every 100 ms); per phase: requests sent, failed
// (goal 0) and p99.
//
//   node dist/bench/zero-loss-promotion.js [--rate 200] [--runs 2] [--bake-ms 5000] [--data-plane envoy]
//
// --data-plane envoy: the clients' traffic goes through one Envoy the router
// feeds (writes zero-loss-promotion-envoy.md).
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { rolloutResult } from '../cli/follow-rollout.js';
import { log } from './lib/log.js';
import { SteadyLoad, describeFailures, summarize, type Sample } from './lib/load.js';
import { PhaseTracker } from './lib/phase-tracker.js';
import { runBench } from './lib/processes.js';
import { machineLine, markdownTable, writeReport } from './lib/report.js';
import { MODEL_SERVER, createEndpointWithBlue, modelServerProcess, startRouterProcess } from './lib/router-process.js';
import { fmt, ms } from './lib/stats.js';
import { SMOKE_STEP, benchPolicy, connectClient, startDevServer, startWorkerProcess, withTimeout } from './lib/temporal.js';
import { startRollout } from '../cli/start-rollout.js';

const ENDPOINT = 'promote-bench';

runBench('bench:promotion', async () => {
  const { values } = parseArgs({
    options: { rate: { type: 'string' }, runs: { type: 'string' }, 'bake-ms': { type: 'string' }, 'data-plane': { type: 'string' } },
  });
  const envoy = values['data-plane'] === 'envoy';
  if (values['data-plane'] !== undefined && !envoy && values['data-plane'] !== 'builtin') throw new Error(`--data-plane must be builtin or envoy`);
  const rate = Number(values.rate ?? 200);
  const runs = Number(values.runs ?? 2);
  const bakeMs = Number(values['bake-ms'] ?? 5_000);
  const started = Date.now();

  const [dev, router] = await Promise.all([
    startDevServer(),
    startRouterProcess(envoy ? { args: ['--data-plane', 'envoy', '--envoy-replicas', '1', '--xds-port', '0'] } : {}),
  ]);
  const client = await connectClient(dev.address);
  const taskQueue = `bench-promote-${process.pid}`;
  const [, key] = await Promise.all([
    startWorkerProcess(dev.address, router, taskQueue),
    createEndpointWithBlue(router.admin, ENDPOINT, { process: modelServerProcess('model-v1', { LATENCY_MS: '5' }) }, 'model-v1'),
  ]);
  const policy = benchPolicy(
    'bench-promote',
    [
      { kind: 'create' },
      SMOKE_STEP,
      { kind: 'mirror', percent: 10, forMs: bakeMs },
      { kind: 'traffic', percent: 10, forMs: bakeMs },
      { kind: 'traffic', percent: 100, forMs: bakeMs },
      { kind: 'deleteBlue', afterMs: 0 },
    ],
    { minRequests: 30, intervalMs: 1_000, p95Ms: 250, errorRate: 0.01 },
  );

  let tracker: PhaseTracker | undefined;
  const load = new SteadyLoad({
    ratePerSec: rate,
    targets: [{ dataUrl: router.dataUrl, endpoint: ENDPOINT, key }],
    connections: 32,
    tag: () => tracker?.current ?? 'before rollout',
  }).start();
  await sleep(1_000);
  const order: string[] = ['before rollout'];
  const durations: number[] = [];
  let blue = 'model-v1';
  for (let run = 0; run < runs; run++) {
    const green = `model-v${run + 2}`;
    const spec = {
      name: green,
      instanceCount: 2,
      source: { process: { command: process.execPath, args: [MODEL_SERVER], env: { MODEL_VERSION: green, LATENCY_MS: '5' }, readinessPath: '/healthz' } },
    };
    const t = Date.now();
    const handle = await startRollout(client, { endpoint: ENDPOINT, policy, green: spec, blue, policySource: 'bench' }, { taskQueue });
    tracker = new PhaseTracker(handle).start();
    const result = await withTimeout(rolloutResult(handle), 180_000, `run ${run + 1}: the rollout's result`);
    await tracker.stop();
    durations.push(Date.now() - t);
    for (const change of tracker.changes) if (!order.includes(change.tag)) order.push(change.tag);
    if (result.outcome !== 'promoted') throw new Error(`run ${run + 1}: expected a promotion, got ${result.outcome}: ${result.reason}`);
    log(`run ${run + 1}/${runs}: ${blue} -> ${green} promoted in ${Date.now() - t} ms; phases ${tracker.changes.map((c) => c.tag).join(' > ')}`);
    blue = green;
    tracker.current = 'after promotion';
    await sleep(1_000);
  }
  order.push('after promotion');
  const samples = await load.stop();

  const byTag = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = byTag.get(s.tag) ?? [];
    list.push(s);
    byTag.set(s.tag, list);
  }
  const rows: string[][] = [];
  for (const tag of [...order, ...[...byTag.keys()].filter((t) => !order.includes(t))]) {
    const list = byTag.get(tag);
    if (!list) continue;
    const sum = summarize(list);
    rows.push([tag, fmt(sum.sent), fmt(sum.non2xx + sum.connErrors), describeFailures(sum), ms(sum.p50), ms(sum.p99)]);
  }
  const total = summarize(samples);
  rows.push(['**all**', fmt(total.sent), fmt(total.non2xx + total.connErrors), describeFailures(total), ms(total.p50), ms(total.p99)]);
  const md = [
    `## Zero-loss promotion${envoy ? ' through Envoy' : ''} (${new Date().toISOString()})`,
    '',
    machineLine(),
    `Temporal dev server, \`saferoll router\`${envoy ? " with one Envoy carrying the clients' traffic (`--data-plane envoy`)" : ''} in its own process, the saferoll worker in a child process. Blue and green: examples/model-server.mjs (5 ms; green with 2 instances), started by the router. Clients: ${rate} req/s open loop. Policy: create, smoke, mirror 10% / 10% / 100% for ${bakeMs / 1000} s each (interval 1 s, minRequests 30), delete blue. ${runs} promotion(s) in a row (${durations.map((d) => `${(d / 1000).toFixed(1)} s`).join(', ')}). A request is tagged with the phase seen by a status poll every 100 ms when it was sent, so a request sent within ~100 ms of a change may carry the previous phase. Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(['phase when sent', 'requests', 'failed (goal 0)', 'failures by kind', 'p50', 'p99'], rows),
  ].join('\n');
  await writeReport(envoy ? 'zero-loss-promotion-envoy' : 'zero-loss-promotion', md);
});
