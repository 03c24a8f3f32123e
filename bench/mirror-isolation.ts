// Mirror isolation: does a bad mirror deployment hurt live clients?
//
// Router (its own process) + a fast blue (the sample model server, started
// by the router) + three mirror deployments, each a small server process of
// this bench: healthy (answers at once), hung (never answers) and slow
// (answers after 1 s). Clients send at a steady rate; in interleaved rounds
// we compare no mirroring with 50% mirrored to each mirror: client p99 as a
// ratio to no mirroring (target <= 1.1x) and to the healthy mirror (what the
// mirror's badness itself costs), client errors (target 0), router CPU per
// request, and the peak of mirror copies held at the mirror at once vs the
// router's cap of 256 in flight (copies beyond it are shed and counted in
// saferoll_mirror_shed_total).
//
//   node dist/bench/mirror-isolation.js [--rate 400] [--seconds 3] [--rounds 5]
//        [--variants none,healthy,hung,slow] [--profile (node --cpu-prof on the router, ranked in the report)]
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newestProfile, rankProfile } from './lib/cpu-profile.js';
import { log } from './lib/log.js';
import { cpuMs } from './lib/proc-stat.js';
import { runBench } from './lib/processes.js';
import { SteadyLoad, describeFailures, summarize, type Sample } from './lib/load.js';
import { OUT_DIR, machineLine, markdownTable, writeReport } from './lib/report.js';
import { createEndpointWithBlue, modelServerProcess, startRouterProcess, sumSamples } from './lib/router-process.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import { fmt, median, ms, percentile, ratio, spread } from './lib/stats.js';
import { startUpstreamProcess, type UpstreamProcess } from './lib/upstream-process.js';
import type { UpstreamMode } from './lib/upstream.js';

const ENDPOINT = 'mirror-bench';
const MIRROR_CAP = 256;
const WARMUP_MS = 500;

type VariantId = 'none' | 'healthy' | 'hung' | 'slow';
const MIRRORS: Record<Exclude<VariantId, 'none'>, { label: string; mode: UpstreamMode }> = {
  healthy: { label: '50% mirrored to a healthy mirror', mode: { kind: 'fast' } },
  hung: { label: '50% mirrored to a hung mirror', mode: { kind: 'hung' } },
  slow: { label: '50% mirrored to a 1 s mirror', mode: { kind: 'slow', delayMs: 1_000 } },
};

interface Variant {
  id: VariantId;
  label: string;
  upstream?: UpstreamProcess;
  p99: number[];
  p50: number[];
  /** Every measured latency of every round, for the pooled p99. */
  latencies: number[];
  vsNone: number[];
  vsHealthy: number[];
  sent: number;
  errors: number;
  errorKinds: string[];
  peakInFlight: number[];
  shed: number[];
  /** Router CPU ms per client request, per round. */
  cpuPerRequest: number[];
}

runBench('bench:mirror', async () => {
  const { values } = parseArgs({
    options: { rate: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, variants: { type: 'string' }, profile: { type: 'boolean' } },
  });
  const rate = Number(values.rate ?? 400);
  const seconds = Number(values.seconds ?? 3);
  const rounds = Number(values.rounds ?? 5);
  const ids = (values.variants ?? 'none,healthy,hung,slow').split(',') as VariantId[];
  const profileDir = path.join(OUT_DIR, 'mirror-router-profile');
  if (values.profile) await mkdir(profileDir, { recursive: true });
  const started = Date.now();

  const router = await startRouterProcess(values.profile ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {});
  const admin = router.admin;
  const key = await createEndpointWithBlue(admin, ENDPOINT, { process: modelServerProcess('blue') });
  const variants: Variant[] = [];
  for (const id of ids) {
    const variant: Variant = {
      id,
      label: 'no mirroring',
      p99: [],
      p50: [],
      latencies: [],
      vsNone: [],
      vsHealthy: [],
      sent: 0,
      errors: 0,
      errorKinds: [],
      peakInFlight: [],
      shed: [],
      cpuPerRequest: [],
    };
    if (id !== 'none') {
      const mirror = MIRRORS[id];
      variant.label = mirror.label;
      variant.upstream = await startUpstreamProcess(`${id} mirror`, mirror.mode);
      await admin.putDeployment(ENDPOINT, id, { instanceCount: 1, upstreams: [variant.upstream.url] });
      await waitSucceeded(admin, ENDPOINT, id, { timeoutMs: 30_000 });
    }
    variants.push(variant);
  }

  const load = new SteadyLoad({ ratePerSec: rate, targets: [{ dataUrl: router.dataUrl, endpoint: ENDPOINT, key }], connections: 64 });
  // Warm the connections and the JIT once, outside the measured rounds.
  log(`warm-up: ${rate} req/s for 2 s`);
  load.start();
  await sleep(2_000);
  await load.pause();

  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
    const p99ThisRound = new Map<VariantId, number>();
    for (const variant of order) {
      await admin.setTraffic(ENDPOINT, { blue: 100 }, variant.id === 'none' ? {} : { [variant.id]: 50 });
      await variant.upstream?.command({ type: 'resetPeak' });
      const before = await admin.metricsText();
      load.samples.length = 0;
      const cpuBefore = cpuMs(router.child.pid);
      load.start();
      await sleep(seconds * 1_000);
      await load.pause();
      const routerCpu = cpuMs(router.child.pid) - cpuBefore;
      const after = await admin.metricsText();
      const peak = (await variant.upstream?.command({ type: 'stats' }))?.peakInFlight ?? 0;
      // End a hung phase cleanly: the router sees the held copies fail and frees its slots.
      await admin.setTraffic(ENDPOINT, { blue: 100 }, {});
      await variant.upstream?.command({ type: 'release' });

      const first = load.samples.reduce((m, s) => Math.min(m, s.sentAt), Number.POSITIVE_INFINITY);
      const measured = load.samples.filter((s: Sample) => s.sentAt >= first + WARMUP_MS);
      const summary = summarize(measured);
      for (const s of measured) variant.latencies.push(s.latencyMs);
      const all = summarize(load.samples);
      variant.p99.push(summary.p99);
      variant.p50.push(summary.p50);
      variant.cpuPerRequest.push(routerCpu / all.sent);
      variant.sent += all.sent;
      variant.errors += all.non2xx + all.connErrors;
      if (all.non2xx + all.connErrors > 0) variant.errorKinds.push(describeFailures(all));
      p99ThisRound.set(variant.id, summary.p99);
      if (variant.id !== 'none') {
        variant.peakInFlight.push(peak);
        const shed = (text: string): number => sumSamples(text, 'saferoll_mirror_shed_total', { deployment: variant.id });
        variant.shed.push(shed(after) - shed(before));
      }
      log(
        `round ${round + 1}/${rounds} ${variant.label}: p50 ${ms(summary.p50)} p99 ${ms(summary.p99)}, ${all.sent} sent, errors ${describeFailures(all)}${variant.upstream ? `, peak held at mirror ${peak}` : ''}`,
      );
      await sleep(300);
    }
    for (const variant of variants) {
      const p99 = p99ThisRound.get(variant.id) ?? Number.NaN;
      variant.vsNone.push(p99 / (p99ThisRound.get('none') ?? Number.NaN));
      variant.vsHealthy.push(p99 / (p99ThisRound.get('healthy') ?? Number.NaN));
    }
  }
  await load.stop();
  const shedTotal = sumSamples(await admin.metricsText(), 'saferoll_mirror_shed_total');

  const bad = variants.filter((v) => v.id === 'hung' || v.id === 'slow');
  const pooled = new Map(variants.map((v) => [v.id, percentile(v.latencies, 0.99)]));
  const pooledRatio = (v: Variant, base: VariantId): number => (pooled.get(v.id) ?? Number.NaN) / (pooled.get(base) ?? Number.NaN);
  const rows = variants.map((v) => [
    v.label,
    ms(median(v.p50)),
    ms(pooled.get(v.id) ?? Number.NaN),
    spread(v.p99, (x) => fmt(x, 1)),
    v.id === 'none' ? '1.00x' : `${ratio(pooledRatio(v, 'none'))} (${ratio(median(v.vsNone))})`,
    v.id === 'none' || v.id === 'healthy' ? '-' : `${ratio(pooledRatio(v, 'healthy'))} (${ratio(median(v.vsHealthy))})`,
    fmt(median(v.cpuPerRequest), 3),
    fmt(v.sent),
    v.errors === 0 ? '0' : `${fmt(v.errors)} (${v.errorKinds.join('; ')})`,
    v.id === 'none' ? '-' : `${fmt(Math.max(...v.peakInFlight))} / ${MIRROR_CAP}`,
    v.id === 'none' ? '-' : fmt(v.shed.reduce((a, b) => a + b, 0)),
  ]);
  const worst = Math.max(...bad.map((v) => pooledRatio(v, 'none')));
  const worstHealthy = Math.max(...bad.map((v) => pooledRatio(v, 'healthy')));
  const errors = variants.reduce((a, v) => a + v.errors, 0);
  let md = [
    `## Mirror isolation (${new Date().toISOString()})`,
    '',
    machineLine(),
    `Router: \`saferoll router\` in its own process (mirror cap ${MIRROR_CAP} in flight, upstream timeout 30 s); blue: examples/model-server.mjs (LATENCY_MS=0) started by the router; mirrors: small Node server processes of this bench (healthy = answers at once; hung = never answers; slow = answers after 1 s). Clients: open loop, ${rate} req/s, 64 connections, POST /score. ${rounds} interleaved rounds of ${seconds} s per variant (order rotated; the first ${WARMUP_MS} ms of each run not counted in p50/p99); p99 ratios: of the p99s over all rounds' samples pooled, and in brackets the median of per-round ratios to the same round's run without mirroring / with the healthy mirror. Router CPU per request from /proc. Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(
      [
        'variant',
        'p50 (median of rounds)',
        'p99 (all rounds pooled)',
        'p99 per round, ms',
        'p99 vs no mirroring, pooled (median of rounds); target <= 1.1x',
        'p99 vs healthy mirror, pooled (median of rounds)',
        'router CPU ms / request',
        'requests',
        'client errors (target 0)',
        'peak mirror copies held / cap',
        'mirror copies shed',
      ],
      rows,
    ),
    '',
    `Verdict: worst bad-mirror p99 ratio ${ratio(worst)} to no mirroring (${worst <= 1.1 ? 'meets' : 'misses'} the 1.1x target), ${ratio(worstHealthy)} to a healthy mirror; ${errors} client errors. ${fmt(shedTotal)} mirror copies shed in all (saferoll_mirror_shed_total). "peak held" is counted at the mirror server itself: the most requests it held open at one moment.`,
  ].join('\n');
  if (values.profile) {
    await router.stop(); // the profile is written when the router exits
    const file = await newestProfile(profileDir);
    if (file) md += ['', '', `### Router CPU profile (\`${path.relative(process.cwd(), file)}\`)`, '', await rankProfile(file, 15)].join('\n');
  }
  await writeReport(values.profile ? 'mirror-isolation-profile' : 'mirror-isolation', md);
});
