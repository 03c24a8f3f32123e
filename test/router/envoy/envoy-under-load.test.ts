// The Envoy data plane under steady load: 100 traffic changes with no failed
// request, and a mirror target that never answers leaves clients unaffected.
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEnvoyTestRouter, waitFleetInSync } from '../../support/envoy.js';
import { startLoad } from '../../support/load.js';
import type { TestRouter } from '../../support/router.js';
import { startUpstream, type TestUpstream } from '../../support/upstream.js';
import { waitFor } from '../../support/wait-for.js';

let r: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
let hung: TestUpstream;
let release: () => void = () => undefined;
let key: string;

beforeAll(async () => {
  r = await startEnvoyTestRouter({ envoy: { xdsPort: 0, replicas: 2 } });
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  hung = await startUpstream('hung', { hold: new Promise<void>((resolve) => (release = resolve)) });
  await r.admin.putEndpoint('scoring', { authMode: 'key' });
  for (const [name, upstream] of [
    ['blue', blue],
    ['green', green],
    ['hung', hung],
  ] as const) {
    await r.admin.putDeployment('scoring', name, { instanceCount: 1, upstreams: [upstream.url] });
  }
  await waitFor(async () => (await r.admin.listDeployments('scoring')).every((d) => d.provisioningState === 'Succeeded'), 20_000);
  key = (await r.admin.getKeys('scoring')).primaryKey;
});

afterAll(async () => {
  release();
  await r?.close();
  await Promise.all([blue?.close(), green?.close(), hung?.close()]);
});

it('answers every request while the split changes 100 times', async () => {
  await r.admin.setTraffic('scoring', { blue: 100 });
  await waitFleetInSync(r.admin, 2);
  const load = startLoad(r.router.dataUrl, 'scoring', key, 2, 5);
  try {
    for (let i = 0; i < 100; i++) {
      const green = (i * 37) % 101;
      await r.admin.setTraffic('scoring', green === 100 ? { green: 100 } : green === 0 ? { blue: 100 } : { blue: 100 - green, green });
    }
    await r.admin.setTraffic('scoring', { green: 100 });
    const sent = load.report.sent;
    await waitFor(() => load.report.sent >= sent + 50, 20_000, 'load after the last change');
  } finally {
    await load.stop();
  }
  expect(load.report.failures).toEqual([]);
  expect(load.report.failed).toBe(0);
  expect(load.report.byDeployment.blue).toBeGreaterThan(0);
  expect(load.report.byDeployment.green).toBeGreaterThan(0);
}, 300_000);

it('answers clients while the mirror target holds every copy unanswered', async () => {
  await r.admin.setTraffic('scoring', { blue: 100 }, { hung: 50 });
  await waitFleetInSync(r.admin, 2);
  const hitsBefore = hung.hits;
  for (let i = 0; i < 1400; i++) {
    // Far shorter than the hold, which lasts the whole test: a client that waited on the mirror would time out here.
    const answer = await request(`${r.router.dataUrl}/scoring/score`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${key}` },
      headersTimeout: 5_000,
      reset: true,
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['x-saferoll-deployment']).toBe('blue');
    await answer.body.dump();
  }
  // The copies did reach the hung target (counted on arrival of the whole body), and are still held.
  await waitFor(() => hung.hits - hitsBefore > 0, 10_000, 'mirror copies reached the hung target');
  // Beyond 256 copies in flight per Envoy, copies are shed and counted as such, never as answers of the mirror.
  const metrics = await r.admin.metricsText();
  expect(Number(/saferoll_mirror_shed_total\{endpoint="scoring",deployment="hung"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
  expect(metrics).not.toMatch(/deployment="hung",traffic="mirror",code=/);
}, 120_000);
