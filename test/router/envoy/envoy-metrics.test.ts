// /metrics with the Envoy data plane: the routing core's own series, names,
// labels and buckets unchanged, summed over every Envoy of the fleet from
// their admin stats, so a gate reads them as it reads the built-in plane's.
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compactSnapshot } from '../../../analysis/snapshot.js';
import { measureWindow } from '../../../analysis/window.js';
import { DURATION_BUCKETS_SECONDS } from '../../../router/metrics.js';
import { startEnvoyTestRouter, waitFleetInSync } from '../../support/envoy.js';
import { TEST_ADMIN_TOKEN, type TestRouter } from '../../support/router.js';
import { startUpstream, type TestUpstream } from '../../support/upstream.js';
import { waitFor } from '../../support/wait-for.js';

let r: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
let key: string;

beforeAll(async () => {
  r = await startEnvoyTestRouter({ envoy: { xdsPort: 0, replicas: 2 } });
  blue = await startUpstream('blue');
  green = await startUpstream('green', { status: 500 });
  await r.admin.putEndpoint('scoring', { authMode: 'key' });
  await r.admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await r.admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await r.admin.listDeployments('scoring')).every((d) => d.provisioningState === 'Succeeded'));
  key = (await r.admin.getKeys('scoring')).primaryKey;
});

afterAll(async () => {
  await r?.close();
  await Promise.all([blue?.close(), green?.close()]);
});

/** One request on a connection of its own, so the kernel spreads them over both Envoys. */
async function send(headers: Record<string, string> = {}): Promise<number> {
  const answer = await request(`${r.router.dataUrl}/scoring/score`, {
    method: 'POST',
    body: '{}',
    headers: { authorization: `Bearer ${key}`, ...headers },
    reset: true,
  });
  await answer.body.dump();
  return answer.statusCode;
}

async function adminGet(path: string): Promise<string> {
  const answer = await request(`${r.router.adminUrl}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return answer.body.text();
}

it("counts every request the fleet answered, by deployment and kind of traffic, in saferoll's series and buckets", async () => {
  await r.admin.setTraffic('scoring', { blue: 100 }, { green: 50 });
  await waitFleetInSync(r.admin, 2);
  const live = 120;
  const direct = 30;
  for (let i = 0; i < live; i++) expect(await send()).toBe(200);
  for (let i = 0; i < direct; i++) expect(await send({ 'x-saferoll-deployment': 'green' })).toBe(500);

  // Both Envoys carried traffic, so the totals below are sums over the fleet.
  const replicas = r.router.envoy?.fleet.running() ?? [];
  expect(replicas).toHaveLength(2);
  for (const replica of replicas) {
    const own = await (await request(`${replica.adminUrl}/stats?filter=upstream_rq_200$`)).body.text();
    expect(own).toMatch(/sr~scoring~blue~live~[^.]+\.upstream_rq_200: [1-9]/);
  }

  // Mirror copies arrive after their answers: wait until every one is booked.
  const snapshot = await waitFor(
    async () => {
      const s = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', Date.now());
      return s.deployments.green?.mirror?.count === green.hits - direct ? s : undefined;
    },
    10_000,
    'mirror copies booked',
  );
  expect(snapshot.le).toEqual(DURATION_BUCKETS_SECONDS);
  expect(snapshot.deployments.blue?.live).toMatchObject({ count: live, errors: 0 });
  expect(snapshot.deployments.blue?.live?.buckets.at(-1)).toBe(live);
  expect(snapshot.deployments.green?.direct).toMatchObject({ count: direct, errors: direct });
  const mirrored = snapshot.deployments.green?.mirror?.count ?? 0;
  expect(mirrored).toBeGreaterThan(0);
  expect(snapshot.deployments.green?.mirror?.errors).toBe(mirrored);
  expect(snapshot.deployments.blue?.mirror).toBeUndefined();

  // The full exposition has the same numbers, and the router's own families.
  const full = await adminGet('/metrics');
  expect(compactSnapshot(full, 'scoring', 0).deployments).toEqual(snapshot.deployments);
  expect(full).toContain('# TYPE saferoll_mirror_shed_total counter');
  expect(full).toContain('# TYPE saferoll_guard_fired_total counter');
  // Envoy's stats carry no client hang-ups: unknown to a gate, never a count of 0 that could not fail.
  expect(full).not.toContain('saferoll_client_aborts_total');
  expect(snapshot.countsAborts).toBeUndefined();
  expect(measureWindow(undefined, snapshot, 'blue', 'live').aborts).toBeUndefined();
});

it("keeps the fleet's totals when an Envoy is killed and started again", async () => {
  await r.admin.setTraffic('scoring', { blue: 100 }, {});
  await waitFleetInSync(r.admin, 2);
  for (let i = 0; i < 20; i++) expect(await send()).toBe(200);
  const before = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', 0).deployments.blue?.live?.count ?? 0;
  expect(before).toBeGreaterThanOrEqual(20);
  const fleet = r.router.envoy?.fleet;
  const victim = fleet?.running()[0];
  const restartsBefore = fleet?.restarts ?? 0;
  process.kill(victim?.pid ?? 0, 'SIGKILL');
  await waitFor(() => (fleet?.restarts ?? 0) > restartsBefore && fleet?.running().length === 2, 30_000, 'the killed Envoy started again');
  await waitFleetInSync(r.admin, 2);
  for (let i = 0; i < 10; i++) expect(await send()).toBe(200);
  const after = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', 0).deployments.blue?.live?.count ?? 0;
  expect(after).toBe(before + 10);
});
