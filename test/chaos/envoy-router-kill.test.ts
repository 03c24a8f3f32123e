// kill -9 of the routing core under load, with the Envoy data plane: the
// Envoys keep routing with their last config (0 failed requests), and the
// restarted router takes the same Envoys back and feeds them again.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DataPlaneView } from '../../router/envoy/envoy-plane.js';
import { freePort } from '../../shared/free-port.js';
import { waitFleetInSync } from '../support/envoy.js';
import { startLoad } from '../support/load.js';
import { RouterProcess } from '../support/router-process.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let router: RouterProcess;
let stopped = false;
let blue: TestUpstream;
let green: TestUpstream;

beforeAll(async () => {
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  router = await RouterProcess.start(undefined, ['--data-plane', 'envoy', '--envoy-replicas', '2', '--xds-port', String(await freePort())]);
});

afterAll(async () => {
  if (!stopped) await router?.stop();
  await Promise.all([blue?.close(), green?.close()]);
});

it('keeps serving through a kill -9 of the routing core, which takes its Envoys back when restarted', async () => {
  const { admin } = router;
  await admin.putEndpoint('scoring', { authMode: 'key' });
  await admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await admin.listDeployments('scoring')).every((d) => d.provisioningState === 'Succeeded'));
  await admin.setTraffic('scoring', { blue: 100 });
  const before = await waitFleetInSync(admin, 2);
  const pids = before.replicas.map((r) => r.pid).sort();
  expect(pids).toHaveLength(2);
  const { primaryKey } = await admin.getKeys('scoring');

  const load = startLoad(router.dataUrl, 'scoring', primaryKey, 4, 5);
  try {
    await waitFor(() => load.report.sent >= 100, 20_000, 'load running');
    await router.kill9();
    const whileDown = load.report.sent;
    await waitFor(() => load.report.sent >= whileDown + 200, 20_000, 'requests answered while the routing core is down');
    expect(load.report.failed).toBe(0);

    await router.restart();
    const after = await waitFleetInSync(admin, 2);
    expect(after.replicas.map((r) => r.pid).sort()).toEqual(pids);
    expect(after.replicas.every((r) => r.adopted)).toBe(true);
    // The Envoys it took back follow its changes again.
    await admin.setTraffic('scoring', { green: 100 });
    await waitFleetInSync(admin, 2);
    const resumed = load.report.sent;
    await waitFor(() => load.report.sent >= resumed + 100, 20_000, 'load after the restart');
  } finally {
    await load.stop();
  }
  expect(load.report.failures).toEqual([]);
  expect(load.report.failed).toBe(0);
  expect(load.report.byDeployment.green).toBeGreaterThan(0);
  expect(router.output()).toContain('took back Envoy replica 0');

  const view = await admin.dataPlane<DataPlaneView>();
  const admins = view.replicas.map((r) => r.adminUrl);
  stopped = true;
  await router.stop();
  for (const url of admins) await expect(fetch(`${url}/ready`)).rejects.toThrow();
});
