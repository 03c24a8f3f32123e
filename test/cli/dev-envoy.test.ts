// `saferoll dev --data-plane envoy`: the local stack with an Envoy carrying
// the traffic. The stack restarts a killed router, which takes the same Envoy
// back while it keeps serving. It runs its own Temporal server: its worker
// polls the default task queue, which other test files use on the shared one.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AdminClient } from '../../router/client.js';
import type { DataPlaneView } from '../../router/envoy/envoy-plane.js';
import { freePort } from '../../shared/free-port.js';
import { spawnCli, stopCli, type CliProcess } from '../support/cli.js';
import { waitFleetInSync } from '../support/envoy.js';
import { startLoad } from '../support/load.js';
import { TEST_ADMIN_TOKEN } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let dir: string;
let dev: CliProcess;
let upstream: TestUpstream;
let admin: AdminClient;
let dataPort: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-dev-envoy-'));
  const [data, adminPort, xds, temporal, ui] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  dataPort = data;
  dev = spawnCli(
    [
      'dev',
      '--port',
      String(data),
      '--admin-port',
      String(adminPort),
      '--temporal-port',
      String(temporal),
      '--ui-port',
      String(ui),
      '--data-plane',
      'envoy',
      '--xds-port',
      String(xds),
      '--state-dir',
      dir,
    ],
    { CI: 'true', SAFEROLL_ADMIN_TOKEN: TEST_ADMIN_TOKEN, TEMPORAL_ADDRESS: undefined },
  );
  await waitFor(
    () => {
      if (dev.child.exitCode !== null) throw new Error(`saferoll dev exited ${dev.child.exitCode}:\n${dev.output()}`);
      return dev.output().includes('saferoll dev stack is up');
    },
    240_000,
    'the dev stack up',
  );
  admin = new AdminClient({ adminUrl: `http://127.0.0.1:${adminPort}`, token: TEST_ADMIN_TOKEN });
  upstream = await startUpstream('blue');
}, 300_000);

afterAll(async () => {
  await stopCli(dev);
  await admin?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

it('serves through its Envoy, and a router it restarts after a kill -9 takes that Envoy back with no failed request', async () => {
  await admin.putEndpoint('devenvoy', { authMode: 'key' });
  await admin.putDeployment('devenvoy', 'blue', { instanceCount: 1, upstreams: [upstream.url] });
  await waitFor(async () => (await admin.getDeployment('devenvoy', 'blue')).provisioningState === 'Succeeded', 20_000);
  await admin.setTraffic('devenvoy', { blue: 100 });
  const before = await waitFleetInSync(admin, 1);
  expect(before.kind).toBe('envoy');
  const envoyPid = before.replicas[0]?.pid;
  const { primaryKey } = await admin.getKeys('devenvoy');

  const load = startLoad(`http://127.0.0.1:${dataPort}`, 'devenvoy', primaryKey, 2, 5);
  try {
    await waitFor(() => load.report.sent >= 50, 20_000, 'load running');
    const routerPid = (JSON.parse(await readFile(path.join(dir, 'dev-pids.json'), 'utf8')) as { router: number }).router;
    process.kill(routerPid, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const view = await admin.dataPlane<DataPlaneView>();
        return view.replicas[0]?.adopted ? view : undefined;
      },
      60_000,
      'the restarted router took its Envoy back',
    );
    expect(after.replicas[0]?.pid).toBe(envoyPid);
    const sent = load.report.sent;
    await waitFor(() => load.report.sent >= sent + 50, 20_000, 'load after the restart');
  } finally {
    await load.stop();
  }
  expect(load.report.failures).toEqual([]);
  expect(load.report.byDeployment.blue).toBe(load.report.sent);
});
