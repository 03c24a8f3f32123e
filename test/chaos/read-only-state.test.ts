// The router's state dir turned read-only (a remount of its tmpfs: root
// ignores file modes). While running, every admin change is refused with 507
// and changes nothing, and clients are routed as before. A router (re)started
// on a read-only state dir works read-only: it loads the state, re-adopts the
// running instances and serves, and refuses changes until the dir is writable.
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelServer } from '../support/chaos-rollouts.js';
import { RouterProcess } from '../support/router-process.js';
import { adminCall, everyKindOfChange, routeSample, stateSnapshot } from '../support/state-dir-faults.js';
import { Tmpfs } from '../support/tmpfs.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

const tmpfs = await Tmpfs.mount(2048);
const skipReason = typeof tmpfs === 'string' ? tmpfs : undefined;

let router: RouterProcess | undefined;
let logsDir: string | undefined;
const upstreams: TestUpstream[] = [];

afterAll(async () => {
  if (typeof tmpfs !== 'string') await tmpfs.remount('rw').catch(() => undefined);
  await router?.stop();
  for (const upstream of upstreams) await upstream.close();
  if (typeof tmpfs !== 'string') await tmpfs.unmount();
  if (logsDir) await rm(logsDir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== undefined)(`read-only state dir${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let disk: Tmpfs;
  let keys: { primaryKey: string; secondaryKey: string };

  beforeAll(async () => {
    disk = tmpfs as Tmpfs;
    const [green, spare] = await Promise.all(['green', 'spare'].map((name) => startUpstream(name)));
    if (!green || !spare) throw new Error('unreachable');
    upstreams.push(green, spare);
    // Instances keep their log files open for writing, and an open file keeps a
    // mount from turning read-only: the logs dir points outside the tmpfs.
    const stateDir = path.join(disk.dir, 'state');
    await mkdir(stateDir);
    logsDir = await mkdtemp(path.join(tmpdir(), 'saferoll-ro-logs-'));
    await symlink(logsDir, path.join(stateDir, 'logs'));
    router = await RouterProcess.start(stateDir);
    const { admin } = router;
    for (const endpoint of ['ro-main', 'ro-other']) await admin.putEndpoint(endpoint, { authMode: 'key', tags: { suite: 'chaos' } });
    // A process blue, so a restart has an instance to re-adopt (its log lives in the state dir).
    const blue = modelServer('blue');
    if (!('process' in blue.source)) throw new Error('unreachable');
    await admin.putDeployment('ro-main', 'blue', { instanceCount: 1, process: blue.source.process });
    await admin.putDeployment('ro-main', 'green', { instanceCount: 1, upstreams: [green.url] });
    await admin.putDeployment('ro-main', 'spare', { instanceCount: 1, upstreams: [spare.url] });
    await admin.putDeployment('ro-other', 'blue', { instanceCount: 1, upstreams: [green.url] });
    await waitFor(async () => (await admin.listDeployments('ro-main')).every((d) => d.provisioningState === 'Succeeded'), 30_000, 'deployments ready');
    await admin.setTraffic('ro-main', { blue: 50, green: 50 });
    await admin.setTraffic('ro-other', { blue: 100 });
    keys = await admin.getKeys('ro-main');
  });

  it('refuses every change while the dir is read-only, changes nothing, keeps routing; works again once writable', async () => {
    const live = router as RouterProcess;
    const before = await stateSnapshot(live);
    await disk.remount('ro');
    try {
      for (const change of everyKindOfChange('ro-main', 'spare', 'ro-other', upstreams[0]?.url ?? '')) {
        const answer = await adminCall(live, change);
        expect([change.what, answer.status, answer.body.error?.code], JSON.stringify(answer.body)).toEqual([change.what, 507, 'SAFEROLL_E_STATE_WRITE']);
        expect(answer.body.error?.message).toMatch(/cannot save the router state .*state\.json.*read-only file system.*nothing was changed/i);
        expect(await stateSnapshot(live), change.what).toEqual(before);
      }
      const sample = await routeSample(live, 'ro-main', keys.primaryKey);
      expect(sample.failures).toEqual([]);
      expect(Object.keys(sample.byDeployment).sort()).toEqual(['blue', 'green']);
    } finally {
      await disk.remount('rw');
    }
    expect(
      (await adminCall(live, { what: 'set traffic', method: 'PATCH', path: '/v1/endpoints/ro-main', body: { traffic: { blue: 90, green: 10 } } })).status,
    ).toBe(200);
    expect((await live.admin.getEndpoint('ro-main')).traffic).toEqual({ blue: 90, green: 10 });
  });

  it('a router restarted on a read-only state dir serves its state read-only and re-adopts its instances', async () => {
    const live = router as RouterProcess;
    const blueBefore = await live.admin.getDeployment('ro-main', 'blue');
    await live.kill9();
    await disk.remount('ro');
    try {
      await live.restart();
      const before = await stateSnapshot(live);
      expect((await live.admin.getEndpoint('ro-main')).traffic).toEqual({ blue: 90, green: 10 });
      expect(await live.admin.getKeys('ro-main')).toEqual(keys);
      // The instance outlived the router and is re-adopted (no write needed), not restarted.
      const blue = await waitFor(
        async () => {
          const view = await live.admin.getDeployment('ro-main', 'blue');
          return view.instances[0]?.healthy ? view : undefined;
        },
        20_000,
        'blue re-adopted',
      );
      expect(blue.instances[0]?.pid).toBe(blueBefore.instances[0]?.pid);
      const sample = await routeSample(live, 'ro-main', keys.secondaryKey);
      expect(sample.failures).toEqual([]);
      expect(Object.keys(sample.byDeployment).sort()).toEqual(['blue', 'green']);
      const refused = await adminCall(live, { what: 'set traffic', method: 'PATCH', path: '/v1/endpoints/ro-main', body: { traffic: { blue: 100 } } });
      expect([refused.status, refused.body.error?.code]).toEqual([507, 'SAFEROLL_E_STATE_WRITE']);
      expect(await stateSnapshot(live)).toEqual(before);
    } finally {
      await disk.remount('rw');
    }
    expect((await adminCall(live, { what: 'set traffic', method: 'PATCH', path: '/v1/endpoints/ro-main', body: { traffic: { blue: 100 } } })).status).toBe(200);
    expect((await routeSample(live, 'ro-main', keys.primaryKey, 10)).byDeployment).toEqual({ blue: 10 });
  });
});
