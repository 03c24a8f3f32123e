// The router as a process: state survives kill -9 (process instances are
// re-adopted), a corrupt state file stops it, SIGTERM drains, the admin token,
// one router per state dir, and instances it cannot prove its own left alone.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../router/client.js';
import { PROJECT_ROOT, runCli, spawnRouter, stopCli } from '../support/cli.js';
import { callDataPlane } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'lifecycle-token';
const agent = new Agent();
const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => agent.close());

async function freshDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'saferoll-lifecycle-'));
}

async function started(stateDir: string, env: Record<string, string | undefined> = { SAFEROLL_ADMIN_TOKEN: TOKEN }) {
  const router = await spawnRouter(stateDir, env);
  cleanups.push(async () => {
    await stopCli(router);
  });
  const admin = new AdminClient({ adminUrl: router.adminUrl, token: env.SAFEROLL_ADMIN_TOKEN ?? TOKEN });
  cleanups.push(() => admin.close());
  return { router, admin };
}

describe('router lifecycle', () => {
  it('keeps endpoints, keys, traffic, mirror and process instances across kill -9', async () => {
    const stateDir = await freshDir();
    const blue: TestUpstream = await startUpstream('blue');
    cleanups.push(() => blue.close());
    const first = await started(stateDir);
    await first.admin.putEndpoint('durable', { authMode: 'key' });
    await first.admin.putDeployment('durable', 'blue', { instanceCount: 1, upstreams: [blue.url] });
    await first.admin.putDeployment('durable', 'green', {
      instanceCount: 1,
      process: { command: 'node', args: [path.join(PROJECT_ROOT, 'examples/model-server.mjs')], env: { MODEL_VERSION: 'v2' }, readinessPath: '/healthz' },
    });
    await waitFor(async () => (await first.admin.getDeployment('durable', 'green')).provisioningState === 'Succeeded', 20_000);
    await first.admin.setTraffic('durable', { blue: 100 }, { green: 20 });
    const keys = await first.admin.getKeys('durable');
    const pid = (await first.admin.getDeployment('durable', 'green')).instances[0]?.pid;
    expect(pid).toBeTypeOf('number');

    first.router.child.kill('SIGKILL');
    await first.router.exited;

    const second = await started(stateDir);
    const endpoint = await second.admin.getEndpoint('durable');
    expect(endpoint.traffic).toEqual({ blue: 100 });
    expect(endpoint.mirrorTraffic).toEqual({ green: 20 });
    expect(await second.admin.getKeys('durable')).toEqual(keys);
    // The process instance outlived the router and was re-adopted, not restarted.
    await waitFor(async () => (await second.admin.getDeployment('durable', 'green')).instances[0]?.healthy, 20_000, 'green re-adopted');
    expect((await second.admin.getDeployment('durable', 'green')).instances[0]?.pid).toBe(pid);
    await second.admin.setTraffic('durable', { blue: 50, green: 50 });
    const seen = new Set<string | undefined>();
    for (let i = 0; i < 20; i++) {
      const r = await callDataPlane(second.router.dataUrl, agent, 'durable', { key: keys.secondaryKey });
      expect(r.status).toBe(200);
      seen.add(r.deployment);
    }
    expect([...seen].sort()).toEqual(['blue', 'green']);
    await second.admin.setTraffic('durable', { blue: 100 });
    await second.admin.deleteDeployment('durable', 'green');
    expect(() => process.kill(pid as number, 0)).toThrow();
  });

  it('refuses to start on a corrupt state file and leaves it untouched', async () => {
    const stateDir = await freshDir();
    const file = path.join(stateDir, 'state.json');
    await writeFile(file, '{"version":1,"endpoints":{');
    const result = await runCli(['router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], { SAFEROLL_ADMIN_TOKEN: TOKEN });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`router state ${file} is corrupt`);
    expect(result.output).not.toMatch(/\n\s+at /); // one line, no stack trace
    expect(await readFile(file, 'utf8')).toBe('{"version":1,"endpoints":{');
  });

  it('refuses to start on a parseable but invalid state file, in one line naming the file and the field', async () => {
    const at = '2026-01-01T00:00:00.000Z';
    const blue = {
      endpoint: 'scoring',
      name: 'blue',
      instanceCount: 1,
      source: { upstreams: ['http://127.0.0.1:9'] },
      provisioningState: 'Succeeded',
      instances: [],
      createdAt: at,
      updatedAt: at,
    };
    const scoring = {
      name: 'scoring',
      authMode: 'key',
      tags: {},
      keys: { primary: 'p', secondary: 's' },
      traffic: { blue: 100, ghost: 100, spare: 50 },
      mirrorTraffic: {},
      createdAt: at,
      updatedAt: at,
    };
    const files = [
      {
        state: { version: 1, endpoints: { scoring }, deployments: { 'scoring/blue': blue } },
        says: 'endpoints.scoring.traffic.ghost: deployment "ghost" does not exist',
      },
      {
        state: { version: 1, endpoints: { scoring: { ...scoring, traffic: { blue: 100 }, keys: undefined } }, deployments: { 'scoring/blue': blue } },
        says: 'endpoints.scoring.keys: required',
      },
    ];
    for (const { state, says } of files) {
      const stateDir = await freshDir();
      const file = path.join(stateDir, 'state.json');
      const text = JSON.stringify(state);
      await writeFile(file, text);
      const result = await runCli(['router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], { SAFEROLL_ADMIN_TOKEN: TOKEN });
      expect(result.code).not.toBe(0);
      expect(result.output).toContain(`${file}: ${says}`);
      expect(result.output.trim().split('\n')).toHaveLength(1);
      expect(await readFile(file, 'utf8')).toBe(text);
    }
  });

  it('drains in-flight requests on SIGTERM and exits 0', async () => {
    const stateDir = await freshDir();
    let release!: () => void;
    const slow = await startUpstream('slow', { hold: new Promise<void>((resolve) => (release = resolve)) });
    cleanups.push(() => slow.close());
    const { router, admin } = await started(stateDir);
    await admin.putEndpoint('drain', { authMode: 'key' });
    await admin.putDeployment('drain', 'blue', { instanceCount: 1, upstreams: [slow.url] });
    await waitFor(async () => (await admin.getDeployment('drain', 'blue')).provisioningState === 'Succeeded');
    await admin.setTraffic('drain', { blue: 100 });
    const { primaryKey } = await admin.getKeys('drain');
    const inFlight = callDataPlane(router.dataUrl, agent, 'drain', { key: primaryKey });
    await waitFor(() => slow.hits === 1, 10_000, 'request reached the upstream');
    router.child.kill('SIGTERM');
    await waitFor(() => router.output().includes('draining'), 10_000, 'router draining');
    release();
    expect((await inFlight).status).toBe(200);
    expect(await router.exited).toEqual({ code: 0, signal: null });
  });

  it('generates the admin token once, prints it, and keeps it with mode 0600', async () => {
    const stateDir = await freshDir();
    const first = await spawnRouter(stateDir, { SAFEROLL_ADMIN_TOKEN: undefined });
    const token = /SAFEROLL_ADMIN_TOKEN=(\S+)/.exec(first.output())?.[1];
    expect(token).toBeDefined();
    const file = path.join(stateDir, 'admin-token');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    first.child.kill('SIGTERM');
    await first.exited;
    const second = await spawnRouter(stateDir, { SAFEROLL_ADMIN_TOKEN: undefined });
    cleanups.push(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    expect(second.output()).not.toContain('SAFEROLL_ADMIN_TOKEN=');
    const admin = new AdminClient({ adminUrl: second.adminUrl, token: token as string });
    cleanups.push(() => admin.close());
    expect(await admin.listEndpoints()).toEqual([]);
  });

  it("refuses a second router on the same state dir, naming the first one's pid, and the first keeps serving", async () => {
    const stateDir = await freshDir();
    const first = await started(stateDir);
    await first.admin.putEndpoint('solo', { authMode: 'key' });
    const second = await runCli(['router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], { SAFEROLL_ADMIN_TOKEN: TOKEN });
    expect(second.code).not.toBe(0);
    expect(second.output).toContain(`state dir ${stateDir} is in use by router pid ${first.router.child.pid}`);
    expect((await first.admin.getEndpoint('solo')).name).toBe('solo');
  });

  it("two routers on copies of one state dir leave each other's instances and logs alone", async () => {
    const stateDir = await freshDir();
    const first = await started(stateDir);
    await first.admin.putEndpoint('copied', { authMode: 'key' });
    await first.admin.putDeployment('copied', 'blue', { instanceCount: 1, process: modelServer() });
    const original = await waitFor(
      async () => {
        const d = await first.admin.getDeployment('copied', 'blue');
        return d.provisioningState === 'Succeeded' ? d.instances[0] : undefined;
      },
      20_000,
      'blue ready on the first router',
    );
    await first.admin.setTraffic('copied', { blue: 100 });
    const firstLog = path.join(stateDir, 'logs', 'copied_blue-0.log');
    const logged = await readFile(firstLog, 'utf8');
    expect(logged).toContain('listening');

    // A copy taken while the first router runs: its state names the first router's instance (and lock).
    const copy = `${stateDir}-copy`;
    await cp(stateDir, copy, { recursive: true });
    const second = await started(copy);
    const own = await waitFor(
      async () => {
        const d = await second.admin.getDeployment('copied', 'blue');
        return d.instances[0]?.healthy ? d.instances[0] : undefined;
      },
      20_000,
      'blue ready on the second router',
    );
    expect(own.pid).not.toBe(original?.pid);
    expect(second.router.output()).toMatch(/copied\/blue instance 0: not adopting the recorded process: .*no matching SAFEROLL_INSTANCE_ID/);

    // The second router stops its own instances, and only those.
    second.router.child.kill('SIGTERM');
    await second.router.exited;
    expect(isAlive(original?.pid ?? -1)).toBe(true);
    expect(isAlive(own.pid ?? -1)).toBe(false);
    expect(await readFile(firstLog, 'utf8')).toContain(logged);
    const { primaryKey } = await first.admin.getKeys('copied');
    expect((await callDataPlane(first.router.dataUrl, agent, 'copied', { key: primaryKey })).status).toBe(200);
  });

  it('starts on the state of an older saferoll (no start times): fresh instances, the recorded process left alone, a log line', async () => {
    const stateDir = await freshDir();
    const first = await started(stateDir);
    await first.admin.putEndpoint('legacy', { authMode: 'key' });
    await first.admin.putDeployment('legacy', 'blue', { instanceCount: 1, process: modelServer() });
    await waitFor(async () => (await first.admin.getDeployment('legacy', 'blue')).provisioningState === 'Succeeded', 20_000, 'blue ready');
    first.router.child.kill('SIGTERM');
    await first.router.exited;

    // An unrelated node program now runs under the pid the old-style record names.
    const stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    stray.unref();
    const strayPid = stray.pid ?? -1;
    cleanups.push(() => {
      if (isAlive(strayPid)) process.kill(strayPid, 'SIGKILL');
    });
    const file = path.join(stateDir, 'state.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as { deployments: Record<string, { instances: Record<string, unknown>[] }> };
    const deployment = state.deployments['legacy/blue'];
    if (deployment === undefined) throw new Error('no legacy/blue in the state');
    deployment.instances = [{ id: '0', port: 1, pid: strayPid, logFile: path.join(stateDir, 'logs', 'legacy_blue-0.log') }];
    await writeFile(file, JSON.stringify(state));

    const second = await started(stateDir);
    const fresh = await waitFor(async () => (await second.admin.getDeployment('legacy', 'blue')).instances.find((i) => i.healthy), 20_000, 'a fresh blue');
    expect(fresh.pid).not.toBe(strayPid);
    expect(isAlive(strayPid)).toBe(true);
    expect(second.router.output()).toContain(
      `legacy/blue instance 0: not adopting the recorded process: its record has no start time (written by an older saferoll), so pid ${strayPid} cannot be proven ours`,
    );
  });
});

function modelServer() {
  return { command: 'node', args: [path.join(PROJECT_ROOT, 'examples/model-server.mjs')], env: {}, readinessPath: '/healthz' };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
