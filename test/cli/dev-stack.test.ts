// `saferoll dev` as a developer leaves it running: each part that dies (kill -9)
// comes back on its own, and the data plane keeps answering while Temporal or
// the worker is down. The child pids come from the stack's own pid file.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../router/client.js';
import { ROUTER_NODE_FLAGS } from '../../router/node-flags.js';
import { freePort } from '../../shared/free-port.js';
import { TASK_QUEUE } from '../../workflows/messages.js';
import { spawnCli, stopCli, type CliProcess } from '../support/cli.js';
import { startLoad } from '../support/load.js';
import { callDataPlane } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

interface Pids {
  dev: number;
  temporal?: number;
  router?: number;
  worker?: number;
  prometheus?: number;
}

let dir: string;
let dev: CliProcess;
let upstream: TestUpstream;
let admin: AdminClient;
let ports: { data: number; admin: number; temporal: number; ui: number; prometheus: number };
let key: string;
const dataUrl = (): string => `http://127.0.0.1:${ports.data}`;
const temporalAddress = (): string => `127.0.0.1:${ports.temporal}`;
const SECRET = 'canary-temporal-api-key';

async function pids(): Promise<Pids> {
  return JSON.parse(await readFile(path.join(dir, 'dev-pids.json'), 'utf8')) as Pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** kill -9 of one part; resolves with the pid that replaced it. */
async function killPart(part: 'temporal' | 'router' | 'worker' | 'prometheus'): Promise<number> {
  const old = (await pids())[part];
  if (old === undefined) throw new Error(`no ${part} pid`);
  process.kill(old, 'SIGKILL');
  return waitFor(
    async () => {
      const now = (await pids())[part];
      return now !== undefined && now !== old && alive(now) ? now : undefined;
    },
    120_000,
    `a new ${part}`,
  );
}

/** Pollers the Temporal server has seen on the rollout task queue: the worker is connected to this server. */
async function workerPolls(): Promise<boolean> {
  const connection = await Connection.connect({ address: temporalAddress(), connectTimeout: 2_000 });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUE }, taskQueueType: 1 });
    return (pollers ?? []).length > 0;
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-dev-'));
  const [data, adminPort, temporal, ui, prometheus] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  ports = { data, admin: adminPort, temporal, ui, prometheus };
  dev = spawnCli(
    [
      'dev',
      '--port',
      String(ports.data),
      '--admin-port',
      String(ports.admin),
      '--temporal-port',
      String(ports.temporal),
      '--ui-port',
      String(ports.ui),
      '--state-dir',
      dir,
      '--prometheus',
      '--prometheus-port',
      String(ports.prometheus),
    ],
    // Credentials for some remote Temporal, as a developer's shell may hold: the router must not get them.
    { CI: 'true', SAFEROLL_ADMIN_TOKEN: undefined, TEMPORAL_ADDRESS: undefined, TEMPORAL_API_KEY: SECRET, TEMPORAL_TLS_KEY: '/canary/tls.key' },
  );
  await waitFor(
    () => {
      if (dev.child.exitCode !== null) throw new Error(`saferoll dev exited ${dev.child.exitCode}:\n${dev.output()}`);
      return dev.output().includes('saferoll dev stack is up');
    },
    240_000,
    'the dev stack up',
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${dev.output()}`);
  });
  const token = (await readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
  admin = new AdminClient({ adminUrl: `http://127.0.0.1:${ports.admin}`, token });
  upstream = await startUpstream('blue');
  await admin.putEndpoint('devstack', { authMode: 'key' });
  await admin.putDeployment('devstack', 'blue', { instanceCount: 1, upstreams: [upstream.url] });
  await waitFor(async () => (await admin.getDeployment('devstack', 'blue')).provisioningState === 'Succeeded', 20_000, 'blue ready');
  await admin.setTraffic('devstack', { blue: 100 });
  key = (await admin.getKeys('devstack')).primaryKey;
}, 300_000);

afterAll(async () => {
  await stopCli(dev);
  await admin?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The targets Prometheus scrapes, by scrape pool, with their health. */
async function prometheusTargets(): Promise<{ scrapePool: string; scrapeUrl: string; health: string }[]> {
  const answer = await request(`http://127.0.0.1:${ports.prometheus}/api/v1/targets?state=active`);
  return ((await answer.body.json()) as { data: { activeTargets: { scrapePool: string; scrapeUrl: string; health: string }[] } }).data.activeTargets;
}

describe('saferoll dev --prometheus', () => {
  it('prints its URL, and Prometheus scrapes the router found through discovery, with the token from a 0600 file', async () => {
    expect(dev.output()).toContain(`Prometheus   http://127.0.0.1:${ports.prometheus}`);
    expect((await stat(path.join(dir, 'prometheus', 'admin-token'))).mode & 0o777).toBe(0o600);
    const router = await waitFor(
      async () => (await prometheusTargets()).find((t) => t.scrapePool === 'saferoll-router' && t.health === 'up'),
      30_000,
      'the router scraped',
    );
    expect(router.scrapeUrl).toBe(`http://127.0.0.1:${ports.admin}/metrics`);
    // blue has no metricsPath: nothing of it to scrape.
    expect((await prometheusTargets()).map((t) => t.scrapePool)).toEqual(['saferoll-router']);
  });

  it('tells the worker where Prometheus is (SAFEROLL_PROMETHEUS_URL)', async () => {
    const { worker } = await pids();
    const environ = (await readFile(`/proc/${worker}/environ`, 'utf8')).split('\0');
    expect(environ).toContain(`SAFEROLL_PROMETHEUS_URL=http://127.0.0.1:${ports.prometheus}`);
  });

  it('restarts a Prometheus killed with -9', async () => {
    await killPart('prometheus');
    await waitFor(async () => (await prometheusTargets()).some((t) => t.scrapePool === 'saferoll-router' && t.health === 'up'), 60_000, 'scraping again');
  }, 120_000);
});

describe('saferoll dev keeps serving', () => {
  it('starts the router with the node flags that keep its young generation from shrinking (router/node-flags.ts)', async () => {
    const { router } = await pids();
    if (router === undefined) throw new Error('no router pid');
    const argv = (await readFile(`/proc/${router}/cmdline`, 'utf8')).split('\0');
    expect(ROUTER_NODE_FLAGS.length).toBeGreaterThan(0);
    // Node flags go before the script: after it they would be the CLI's arguments.
    const script = argv.findIndex((a) => a.endsWith(path.join('cli', 'main.js')));
    for (const flag of ROUTER_NODE_FLAGS) {
      expect(argv).toContain(flag);
      expect(argv.indexOf(flag)).toBeLessThan(script);
    }
  });

  it('gives the router no Temporal credentials and no admin token in its environment', async () => {
    const { router } = await pids();
    if (router === undefined) throw new Error('no router pid');
    const environ = (await readFile(`/proc/${router}/environ`, 'utf8')).split('\0');
    const token = (await readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
    expect(environ.filter((v) => v.startsWith('TEMPORAL_') || v.startsWith('SAFEROLL_'))).toEqual([]);
    expect(environ.some((v) => v.includes(SECRET) || v.includes(token))).toBe(false);
    // It still has what process deployments need to start.
    expect(environ.some((v) => v.startsWith('PATH='))).toBe(true);
  });

  it('restarts a Temporal server killed with -9, and the data plane answers every request meanwhile', async () => {
    const load = startLoad(dataUrl(), 'devstack', key, 2);
    await waitFor(() => load.report.sent >= 20, 10_000, 'load running');
    const { router } = await pids();
    const temporal = await killPart('temporal');
    await waitFor(() => workerPolls().catch(() => false), 120_000, 'the worker polling the restarted Temporal');
    const sentDuringOutage = load.report.sent;
    await waitFor(() => load.report.sent >= sentDuringOutage + 20, 10_000, 'more load after the restart');
    const report = await load.stop();
    expect(report.failed, report.failures.join('\n')).toBe(0);
    expect(report.byStatus[200]).toBe(report.sent);
    expect((await pids()).router).toBe(router);
    expect(dev.output()).toMatch(/\[dev\] the Temporal dev server \(pid \d+\) died \(SIGKILL\); restarting it in 0\.5 s/);
    expect(dev.output()).toContain(`[dev] the Temporal dev server is back (pid ${temporal})`);
  }, 180_000);

  it('restarts a worker killed with -9, and the data plane answers every request meanwhile', async () => {
    const load = startLoad(dataUrl(), 'devstack', key, 2);
    await waitFor(() => load.report.sent >= 20, 10_000, 'load running');
    const worker = await killPart('worker');
    await waitFor(() => dev.output().includes(`[dev] the worker is back (pid ${worker})`), 120_000, 'the worker back');
    const report = await load.stop();
    expect(report.failed, report.failures.join('\n')).toBe(0);
  }, 180_000);

  it('restarts a router killed with -9, which serves the endpoint again', async () => {
    const agent = new Agent();
    try {
      const router = await killPart('router');
      const answer = await waitFor(
        () => callDataPlane(dataUrl(), agent, 'devstack', { key }).then((r) => (r.status === 200 ? r : undefined)),
        60_000,
        'the data plane back',
      );
      expect(answer.deployment).toBe('blue');
      expect(dev.output()).toContain(`[dev] the router is back (pid ${router})`);
    } finally {
      await agent.close();
    }
  }, 120_000);

  it('stops every part on SIGTERM and exits 0', async () => {
    const before = await pids();
    dev.child.kill('SIGTERM');
    const { code } = await dev.exited;
    expect(code, dev.output()).toBe(0);
    expect(dev.output()).toContain('[dev] stopped');
    for (const part of ['temporal', 'router', 'worker', 'prometheus'] as const) expect(alive(before[part] as number), part).toBe(false);
    expect(existsSync(path.join(dir, 'dev-pids.json'))).toBe(false);
  }, 60_000);
});
