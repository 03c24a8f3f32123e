// Traffic changes under load: 100 changes of the live split and the mirror
// share through the admin API while clients send at a steady rate. Counts
// what clients see (answers that are not 2xx, connection resets and other
// errors; goal 0 and 0) and what the admin API answers, with the changes
// paced (one every 50 ms) and back to back, next to the same load without
// changes.
//
//   node dist/bench/traffic-changes.js [--rate 300] [--changes 100]
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { AdminClient } from '../router/client.js';
import { log } from './lib/log.js';
import { SteadyLoad, describeFailures, nowMs, summarize } from './lib/load.js';
import { runBench } from './lib/processes.js';
import { machineLine, markdownTable, writeReport } from './lib/report.js';
import { createEndpointWithBlue, modelServerProcess, startRouterProcess } from './lib/router-process.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

const ENDPOINT = 'changes-bench';

// Valid states, each an absolute target: mirror only where green has no live traffic.
const STATES: { traffic: Record<string, number>; mirror: Record<string, number> }[] = [
  { traffic: { blue: 100 }, mirror: { green: 10 } },
  { traffic: { blue: 90, green: 10 }, mirror: {} },
  { traffic: { blue: 50, green: 50 }, mirror: {} },
  { traffic: { green: 100 }, mirror: { blue: 50 } },
  { traffic: { green: 100 }, mirror: {} },
  { traffic: { blue: 100 }, mirror: { green: 50 } },
  { traffic: { blue: 100 }, mirror: {} },
];

interface Segment {
  label: string;
  changes: number;
  adminFailed: number;
  adminFailures: string[];
  adminLatencies: number[];
  durationMs: number;
  summary: ReturnType<typeof summarize>;
}

runBench('bench:traffic', async () => {
  const { values } = parseArgs({ options: { rate: { type: 'string' }, changes: { type: 'string' } } });
  const rate = Number(values.rate ?? 300);
  const changes = Number(values.changes ?? 100);
  const started = Date.now();

  const router = await startRouterProcess();
  const admin = router.admin;
  const key = await createEndpointWithBlue(admin, ENDPOINT, { process: modelServerProcess('blue') });
  await admin.putDeployment(ENDPOINT, 'green', { instanceCount: 1, process: modelServerProcess('green') });
  await waitSucceeded(admin, ENDPOINT, 'green', { timeoutMs: 30_000 });

  const load = new SteadyLoad({ ratePerSec: rate, targets: [{ dataUrl: router.dataUrl, endpoint: ENDPOINT, key }], connections: 64 });
  log(`warm-up: ${rate} req/s for 2 s`);
  load.start();
  await sleep(2_000);
  await load.pause();

  const segments: Segment[] = [];
  const run = async (label: string, body: (record: (t: number, err?: string) => void) => Promise<number>, minMs: number): Promise<void> => {
    await admin.setTraffic(ENDPOINT, { blue: 100 }, {});
    const latencies: number[] = [];
    const failures: string[] = [];
    const record = (t: number, err?: string): void => {
      latencies.push(t);
      if (err !== undefined) failures.push(err);
    };
    load.samples.length = 0;
    load.start();
    const t0 = nowMs();
    const done = await body(record);
    const elapsed = nowMs() - t0;
    // Keep the load on a little longer: an answer broken by the last change must show.
    await sleep(Math.max(500, minMs - elapsed));
    await load.pause();
    const summary = summarize(load.samples);
    segments.push({
      label,
      changes: done,
      adminFailed: failures.length,
      adminFailures: failures.slice(0, 3),
      adminLatencies: latencies,
      durationMs: elapsed,
      summary,
    });
    log(
      `${label}: ${done} changes in ${Math.round(elapsed)} ms, admin failures ${failures.length}; clients ${summary.sent} sent, ${describeFailures(summary)}; p99 ${ms(summary.p99)}`,
    );
  };

  await run('same load, no changes', async () => 0, 5_000);
  await run(`${changes} changes, one every 50 ms`, (record) => applyChanges(admin, changes, 50, record), 0);
  await run(`${changes} changes back to back`, (record) => applyChanges(admin, changes, 0, record), 2_000);
  await load.stop();

  const rows = segments.map((s) => [
    s.label,
    fmt(s.changes),
    s.adminFailed === 0 ? '0' : `${s.adminFailed} (${s.adminFailures.join('; ')})`,
    s.changes === 0 ? '-' : `${ms(median(s.adminLatencies))} / ${ms(percentile(s.adminLatencies, 0.99))}`,
    fmt(s.summary.sent),
    fmt(s.summary.non2xx),
    fmt(s.summary.connErrors),
    describeFailures(s.summary),
    ms(s.summary.p99),
  ]);
  const bad = segments.reduce((a, s) => a + s.summary.non2xx + s.summary.connErrors + s.adminFailed, 0);
  const md = [
    `## Traffic changes under load (${new Date().toISOString()})`,
    '',
    machineLine(),
    `Router: \`saferoll router\` in its own process; blue and green: examples/model-server.mjs (LATENCY_MS=0), started by the router. Clients: open loop, ${rate} req/s, 64 connections. Each change is one \`PATCH /v1/endpoints/${ENDPOINT}\` with an absolute live split and mirror share, cycling through ${STATES.length} states (blue 100 + mirror green 10, 90/10, 50/50, green 100 + mirror blue 50, green 100, blue 100 + mirror green 50, blue 100). Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(
      [
        'segment',
        'changes',
        'admin API failures',
        'admin call p50 / p99',
        'client requests',
        'non-2xx (goal 0)',
        'resets / conn. errors (goal 0)',
        'failures by kind',
        'client p99',
      ],
      rows,
    ),
    '',
    `Verdict: ${bad === 0 ? 'no failed request on either side' : `${bad} failed requests in all`}.`,
  ].join('\n');
  await writeReport('traffic-changes', md);
});

async function applyChanges(admin: AdminClient, count: number, everyMs: number, record: (t: number, err?: string) => void): Promise<number> {
  for (let i = 0; i < count; i++) {
    const state = STATES[i % STATES.length] ?? { traffic: { blue: 100 }, mirror: {} };
    const t = nowMs();
    try {
      await admin.setTraffic(ENDPOINT, state.traffic, state.mirror);
      record(nowMs() - t);
    } catch (err) {
      record(nowMs() - t, (err as Error).message.slice(0, 120));
    }
    if (everyMs > 0) await sleep(Math.max(0, everyMs - (nowMs() - t)));
  }
  return count;
}
