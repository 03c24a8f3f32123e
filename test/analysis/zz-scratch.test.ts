import { it } from 'vitest';
import { combineGateResults, evaluateGate } from '../../analysis/evaluate.js';
import { measureWindow } from '../../analysis/window.js';
import { healthyLatencyMs, seededRandom, seriesOf, snapshotOf } from './helpers.js';

it('sim', () => {
  const rules = { p95Ms: 250, p99Ms: 500, errorRate: 0.01, minRequests: 100 };
  let runsFailed = 0; const failTicks: number[] = []; let earlyFails = 0;
  const RUNS = 300;
  for (let seed = 1; seed <= RUNS; seed++) {
    const random = seededRandom(seed);
    const lat: number[] = []; let errors = 0;
    let prev = snapshotOf({});
    for (let tick = 1; tick <= 1000; tick++) {
      for (let i = 0; i < 10; i++) { lat.push(healthyLatencyMs(random)); if (random() < 0.002) errors++; }
      const snap = snapshotOf({ green: { live: seriesOf({ latenciesMs: lat, errors }) } }, { takenAtMs: tick * 1000 });
      const cum = evaluateGate(rules, measureWindow(undefined, snap, 'green', 'live'));
      const last = evaluateGate(rules, measureWindow(prev, snap, 'green', 'live'));
      prev = snap;
      const r = combineGateResults([cum, last]);
      if (r.phase === 'Failed') { runsFailed++; failTicks.push(tick); if (last.phase === 'Failed' || lat.length < 100) earlyFails++; console.log(seed, tick, r.summary); break; }
    }
  }
  console.log('runs failed', runsFailed, '/', RUNS, 'early', earlyFails, failTicks);
});
