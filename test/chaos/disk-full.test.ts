// The router's state dir on a tiny tmpfs that fills up: every admin change
// that cannot be saved is refused with 507 and a message that says why, the
// state in memory and on disk stays as it was, clients are routed as before;
// once space is freed, changes work again and survive a kill -9.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CHAOS_ADMIN_TOKEN, RouterProcess } from '../support/router-process.js';
import { adminCall, everyKindOfChange, routeSample, stateSnapshot } from '../support/state-dir-faults.js';
import { Tmpfs } from '../support/tmpfs.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

const tmpfs = await Tmpfs.mount(512);
const skipReason = typeof tmpfs === 'string' ? tmpfs : undefined;

let router: RouterProcess | undefined;
const upstreams: TestUpstream[] = [];

afterAll(async () => {
  await router?.stop();
  for (const upstream of upstreams) await upstream.close();
  if (typeof tmpfs !== 'string') await tmpfs.unmount();
});

describe.skipIf(skipReason !== undefined)(`disk full${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let disk: Tmpfs;
  let main: { primaryKey: string; secondaryKey: string };

  beforeAll(async () => {
    disk = tmpfs as Tmpfs;
    const [blue, green, spare] = await Promise.all(['blue', 'green', 'spare'].map((name) => startUpstream(name)));
    if (!blue || !green || !spare) throw new Error('unreachable');
    upstreams.push(blue, green, spare);
    router = await RouterProcess.start(`${disk.dir}/state`);
    const { admin } = router;
    for (const endpoint of ['df-main', 'df-other']) {
      await admin.putEndpoint(endpoint, { authMode: 'key', tags: { suite: 'chaos' } });
      await admin.putDeployment(endpoint, 'blue', { instanceCount: 1, upstreams: [blue.url] });
    }
    await admin.putDeployment('df-main', 'green', { instanceCount: 1, upstreams: [green.url] });
    await admin.putDeployment('df-main', 'spare', { instanceCount: 1, upstreams: [spare.url] });
    await waitFor(async () => (await admin.listDeployments('df-main')).every((d) => d.provisioningState === 'Succeeded'), 10_000, 'deployments ready');
    await admin.setTraffic('df-main', { blue: 50, green: 50 });
    await admin.setTraffic('df-other', { blue: 100 });
    main = await admin.getKeys('df-main');
  });

  it('refuses every change it cannot save with 507, changes nothing, keeps routing; works again once space is freed', async () => {
    const live = router as RouterProcess;
    const before = await stateSnapshot(live);
    await disk.fill();

    for (const change of everyKindOfChange('df-main', 'spare', 'df-other', upstreams[0]?.url ?? '')) {
      const answer = await adminCall(live, change);
      expect([change.what, answer.status, answer.body.error?.code], JSON.stringify(answer.body)).toEqual([change.what, 507, 'SAFEROLL_E_STATE_WRITE']);
      expect(answer.body.error?.message).toMatch(/cannot save the router state .*state\.json.*no space left on device.*nothing was changed/i);
      expect(await stateSnapshot(live), change.what).toEqual(before);
    }
    const sample = await routeSample(live, 'df-main', main.primaryKey);
    expect(sample.failures).toEqual([]);
    expect(Object.keys(sample.byDeployment).sort()).toEqual(['blue', 'green']);
    expect((await live.call('df-other', { key: (await live.admin.getKeys('df-other')).secondaryKey })).status).toBe(200);
    expect(live.running).toBe(true);

    await disk.free();
    expect(
      (await adminCall(live, { what: 'set traffic', method: 'PATCH', path: '/v1/endpoints/df-main', body: { traffic: { blue: 100 }, mirrorTraffic: {} } }))
        .status,
    ).toBe(200);
    expect((await adminCall(live, { what: 'delete a deployment', method: 'DELETE', path: '/v1/endpoints/df-main/deployments/spare' })).status).toBe(204);
    await live.kill9();
    await live.restart();
    expect((await live.admin.getEndpoint('df-main')).traffic).toEqual({ blue: 100 });
    expect((await live.admin.listDeployments('df-main')).map((d) => d.name).sort()).toEqual(['blue', 'green']);
    expect(await live.admin.getKeys('df-main')).toEqual(main);
    expect((await routeSample(live, 'df-main', main.secondaryKey, 10)).byDeployment).toEqual({ blue: 10 });
  });

  it('a guard lease that lapses while the disk is full still puts the fallback back: in memory, counted, and again after a restart', async () => {
    const live = router as RouterProcess;
    const taken = await adminCall(live, {
      what: 'take a lease',
      method: 'PATCH',
      path: '/v1/endpoints/df-main',
      body: { traffic: { blue: 50, green: 50 }, guard: { ttl: '1s', fallback: 'blue' } },
    });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    await disk.fill();
    try {
      const fired = await waitFor(
        async () => {
          const view = await live.admin.getEndpoint('df-main');
          return view.guard?.state === 'fired' ? view : undefined;
        },
        20_000,
        'the lapsed lease fired although nothing can be saved',
      );
      expect([fired.traffic, fired.mirrorTraffic]).toEqual([{ blue: 100 }, {}]);
      expect((await routeSample(live, 'df-main', main.primaryKey, 10)).byDeployment).toEqual({ blue: 10 });
      const metrics = await request(`${live.adminUrl}/metrics`, { headers: { authorization: `Bearer ${CHAOS_ADMIN_TOKEN}` } });
      expect(await metrics.body.text()).toMatch(/saferoll_guard_fired_total\{endpoint="df-main"\} 1/);
      // Not on disk: a router restarted now finds the expired lease and fires it before it serves.
      await live.kill9();
      await live.restart();
      expect((await live.admin.getEndpoint('df-main')).traffic).toEqual({ blue: 100 });
    } finally {
      await disk.free();
    }
  });
});
