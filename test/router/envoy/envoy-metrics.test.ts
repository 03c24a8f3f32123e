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
let hung: TestUpstream;
let key: string;
let stalledKey: string;

beforeAll(async () => {
  r = await startEnvoyTestRouter({ envoy: { xdsPort: 0, replicas: 2 } });
  blue = await startUpstream('blue');
  green = await startUpstream('green', { status: 500 });
  hung = await startUpstream('hung', { hold: new Promise<void>(() => undefined) });
  await r.admin.putEndpoint('scoring', { authMode: 'key' });
  await r.admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await r.admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  // A deployment that never answers, whose clients hang up.
  await r.admin.putEndpoint('stalled', { authMode: 'key' });
  await r.admin.putDeployment('stalled', 'hung', { instanceCount: 1, upstreams: [hung.url] });
  await waitFor(async () => (await r.admin.listDeployments('scoring')).every((d) => d.provisioningState === 'Succeeded'));
  await waitFor(async () => (await r.admin.listDeployments('stalled')).every((d) => d.provisioningState === 'Succeeded'));
  await r.admin.setTraffic('stalled', { hung: 100 }, {});
  key = (await r.admin.getKeys('scoring')).primaryKey;
  stalledKey = (await r.admin.getKeys('stalled')).primaryKey;
});

afterAll(async () => {
  await r?.close();
  await Promise.all([blue?.close(), green?.close(), hung?.close()]);
});

/** One client, on a connection of its own, that gives up once the hung deployment has its whole request. */
async function hangUp(): Promise<void> {
  const giveUp = new AbortController();
  const hitsBefore = hung.hits;
  const answer = request(`${r.router.dataUrl}/stalled/score`, {
    method: 'POST',
    body: '{}',
    headers: { authorization: `Bearer ${stalledKey}` },
    signal: giveUp.signal,
    reset: true,
  });
  await waitFor(() => hung.hits > hitsBefore, 10_000, 'the request at the deployment');
  giveUp.abort();
  await expect(answer).rejects.toThrow();
}

/** Hang-ups one Envoy counted itself (whole request sent). */
async function ownHangUps(adminUrl: string): Promise<number> {
  const text = await (await request(`${adminUrl}/stats?filter=${encodeURIComponent('^saferoll\\.client_hangups\\..*\\.sent\\.0$')}`)).body.text();
  return [...text.matchAll(/: (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function fleetHangUps(): Promise<number> {
  return compactSnapshot(await adminGet('/metrics?endpoint=stalled'), 'stalled', 0).deployments.hung?.live?.aborts ?? 0;
}

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
  // Every Envoy of the fleet counts client hang-ups (envoy-hangups.test.ts): the family is there, and none happened.
  expect(full).toContain('# TYPE saferoll_client_aborts_total counter');
  expect(full).not.toContain('saferoll_client_aborts_total{');
  expect(snapshot.countsAborts).toBe(true);
  expect(measureWindow(undefined, snapshot, 'blue', 'live').aborts).toBe(0);
  expect(measureWindow(undefined, snapshot, 'green', 'mirror').aborts).toBeUndefined();
});

it("keeps the fleet's totals, hang-ups too, when an Envoy is killed and started again", async () => {
  await r.admin.setTraffic('scoring', { blue: 100 }, {});
  await waitFleetInSync(r.admin, 2);
  for (let i = 0; i < 20; i++) expect(await send()).toBe(200);
  const before = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', 0).deployments.blue?.live?.count ?? 0;
  expect(before).toBeGreaterThanOrEqual(20);
  const fleet = r.router.envoy?.fleet;
  const victim = fleet?.running()[0];
  // Hang-ups until the Envoy about to be killed counted some itself (the kernel picks each connection's Envoy).
  let hangUps = 0;
  await waitFor(
    async () => {
      await hangUp();
      hangUps++;
      return (await ownHangUps(victim?.adminUrl ?? '')) > 0;
    },
    30_000,
    'a hang-up counted by the Envoy to be killed',
  );
  await waitFor(async () => (await fleetHangUps()) === hangUps, 10_000, 'every hang-up booked');
  const restartsBefore = fleet?.restarts ?? 0;
  process.kill(victim?.pid ?? 0, 'SIGKILL');
  await waitFor(() => (fleet?.restarts ?? 0) > restartsBefore && fleet?.running().length === 2, 30_000, 'the killed Envoy started again');
  await waitFleetInSync(r.admin, 2);
  for (let i = 0; i < 10; i++) expect(await send()).toBe(200);
  const after = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', 0).deployments.blue?.live?.count ?? 0;
  expect(after).toBe(before + 10);
  for (let i = 0; i < 3; i++) await hangUp();
  // The killed Envoy's hang-ups are still in the total (it would fall short of this otherwise).
  await waitFor(async () => (await fleetHangUps()) === hangUps + 3, 10_000, 'the hang-ups before and after the restart');
});
