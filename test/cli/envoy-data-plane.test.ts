// `saferoll router --data-plane envoy` and `saferoll envoy-bootstrap` as a
// user runs them (the built CLI, real Envoy processes): a fleet that serves
// and stops with the router, an Envoy started elsewhere that joins it, and
// start failures that are one line, exit 3 and leave nothing running.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../router/client.js';
import type { DataPlaneView } from '../../router/envoy/envoy-plane.js';
import { envoyBinary } from '../../router/envoy/envoy-binary.js';
import { freePort } from '../../shared/free-port.js';
import { runCli, spawnCli } from '../support/cli.js';
import { TEST_ADMIN_TOKEN } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

const env = { SAFEROLL_ADMIN_TOKEN: TEST_ADMIN_TOKEN, SAFEROLL_INSTANCE_ISOLATION: 'none' };
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-envoy-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function up(url: string): Promise<boolean> {
  try {
    await (await request(url, { headersTimeout: 1_000 })).body.dump();
    return true;
  } catch {
    return false;
  }
}

describe('saferoll router --data-plane envoy: bad input', () => {
  it('refuses a data plane other than builtin or envoy with one line and exit 2', async () => {
    const { code, output } = await runCli(['router', '--data-plane', 'nginx', '--state-dir', path.join(dir, 'a')], env);
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toContain('--data-plane must be builtin or envoy, got "nginx"');
  });

  it('names scripts/install-envoy.sh when there is no Envoy binary, exit 3', async () => {
    const { code, output } = await runCli(
      ['router', '--data-plane', 'envoy', '--port', '0', '--admin-port', '0', '--xds-port', '0', '--state-dir', path.join(dir, 'b')],
      { ...env, SAFEROLL_ENVOY_BIN: path.join(dir, 'no-such-envoy') },
    );
    expect(code).toBe(3);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toContain('scripts/install-envoy.sh');
  });

  it('reports an Envoy that exits at start with its last output, exit 3, and leaves nothing running', async () => {
    // Envoy takes IP addresses only: it refuses "localhost" and exits.
    const stateDir = path.join(dir, 'c');
    const xdsPort = await freePort();
    const { code, output } = await runCli(
      ['router', '--data-plane', 'envoy', '--host', 'localhost', '--port', '0', '--admin-port', '0', '--xds-port', String(xdsPort), '--state-dir', stateDir],
      env,
    );
    expect(code).toBe(3);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/Envoy \(pid \d+\) exited at start .*its last output: .*malformed IP address: localhost/);
    // The xDS server it had started is gone: its port is free again.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(xdsPort, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('refuses a data port already in use, exit 3', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const { code, output } = await runCli(
        ['router', '--data-plane', 'envoy', '--port', String(port), '--admin-port', '0', '--xds-port', '0', '--state-dir', path.join(dir, 'd')],
        env,
      );
      expect(code).toBe(3);
      expect(output.trim().split('\n')).toHaveLength(1);
      expect(output).toContain(`data plane port ${port} on 127.0.0.1 is already in use`);
    } finally {
      holder.close();
    }
  });
});

describe('a fleet of Envoys', () => {
  let blue: TestUpstream;
  let hung: TestUpstream;
  beforeAll(async () => {
    blue = await startUpstream('blue');
    hung = await startUpstream('hung', { hold: new Promise<void>(() => undefined) });
  });
  afterAll(async () => {
    await blue?.close();
    await hung?.close();
  });

  it('serves through 2 replicas on one port, takes in an Envoy started from `saferoll envoy-bootstrap`, and stops its own replicas on SIGTERM', async () => {
    const port = await freePort();
    const router = spawnCli(
      [
        'router',
        '--data-plane',
        'envoy',
        '--envoy-replicas',
        '2',
        '--port',
        String(port),
        '--admin-port',
        '0',
        '--xds-port',
        '0',
        '--state-dir',
        path.join(dir, 'fleet'),
      ],
      env,
    );
    let outside: ReturnType<typeof spawn> | undefined;
    try {
      const started = await waitFor(
        () =>
          /xDS (\S+) .*\n.*data plane (\S+)\s+admin API (\S+)/.exec(router.output()) ??
          (router.child.exitCode !== null ? Promise.reject(new Error(router.output())) : null),
        60_000,
        'router started',
      );
      const [, xdsUrl, dataUrl, adminUrl] = started as unknown as [string, string, string, string];
      const admin = new AdminClient({ adminUrl, token: TEST_ADMIN_TOKEN });
      await admin.putEndpoint('scoring', { authMode: 'key' });
      await admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
      await waitFor(async () => (await admin.getDeployment('scoring', 'blue')).provisioningState === 'Succeeded');
      await admin.setTraffic('scoring', { blue: 100 });
      await admin.putEndpoint('stalled', { authMode: 'key' });
      await admin.putDeployment('stalled', 'hung', { instanceCount: 1, upstreams: [hung.url] });
      await waitFor(async () => (await admin.getDeployment('stalled', 'hung')).provisioningState === 'Succeeded');
      await admin.setTraffic('stalled', { hung: 100 });

      // An Envoy run "elsewhere": its own bootstrap, its own ports.
      const outsidePort = await freePort();
      const outsideAdmin = await freePort();
      const printed = await runCli(
        [
          'envoy-bootstrap',
          '--xds',
          xdsUrl,
          '--node-id',
          'edge-1',
          '--host',
          '127.0.0.1',
          '--port',
          String(outsidePort),
          '--admin-host',
          '127.0.0.1',
          '--admin-port',
          String(outsideAdmin),
        ],
        env,
      );
      expect(printed.code).toBe(0);
      const bootstrapFile = path.join(dir, 'edge-1.json');
      await writeFile(bootstrapFile, printed.output);
      outside = spawn(envoyBinary(), ['-c', bootstrapFile, '--disable-hot-restart', '--log-level', 'warn'], { stdio: 'ignore' });

      const view = await waitFor(
        async () => {
          const v = await admin.dataPlane<DataPlaneView>();
          return v.nodes.length === 3 && v.nodes.every((n) => n.inSync) ? v : undefined;
        },
        30_000,
        '3 Envoys in sync',
      );
      expect(view.nodes.find((n) => n.id === 'edge-1')?.adminUrl).toBe(`http://127.0.0.1:${outsideAdmin}`);

      const { primaryKey } = await admin.getKeys('scoring');
      const call = async (base: string): Promise<number> => {
        const answer = await request(`${base}/scoring/x`, { headers: { authorization: `Bearer ${primaryKey}` }, reset: true });
        await answer.body.dump();
        return answer.statusCode;
      };
      for (let i = 0; i < 10; i++) expect(await call(dataUrl)).toBe(200);
      for (let i = 0; i < 5; i++) expect(await call(`http://127.0.0.1:${outsidePort}`)).toBe(200);
      const metrics = await admin.metricsText();
      expect(metrics).toContain('saferoll_requests_total{endpoint="scoring",deployment="blue",traffic="live",code="200"} 15');
      // Its clients' hang-ups are counted too: the printed bootstrap counts them, so the fleet's count is whole.
      const stalledKey = (await admin.getKeys('stalled')).primaryKey;
      const giveUp = new AbortController();
      const abandoned = request(`http://127.0.0.1:${outsidePort}/stalled/x`, { headers: { authorization: `Bearer ${stalledKey}` }, signal: giveUp.signal });
      await waitFor(() => hung.hits === 1, 10_000, 'the request at the deployment');
      giveUp.abort();
      await expect(abandoned).rejects.toThrow();
      await waitFor(
        async () => (await admin.metricsText()).includes('saferoll_client_aborts_total{endpoint="stalled",deployment="hung",traffic="live"} 1'),
        10_000,
        'the hang-up counted',
      );
      await admin.close();

      const replicaAdmins = view.nodes.filter((n) => n.id !== 'edge-1').map((n) => n.adminUrl ?? '');
      expect(replicaAdmins).toHaveLength(2);
      router.child.kill('SIGTERM');
      expect((await router.exited).code).toBe(0);
      for (const url of replicaAdmins) expect(await up(`${url}/ready`)).toBe(false);
      // The Envoy started elsewhere keeps serving with its last config.
      expect(await call(`http://127.0.0.1:${outsidePort}`)).toBe(200);
    } finally {
      outside?.kill('SIGKILL');
      if (router.child.exitCode === null) router.child.kill('SIGKILL');
    }
  });
});
