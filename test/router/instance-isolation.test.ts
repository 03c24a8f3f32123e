// A process deployment tries to read the router's secrets, run by a real
// router process (`saferoll router`): the router's environment through
// /proc/<router pid>/environ (which keeps the environment the router started
// with), the state file with the endpoint keys, and the admin token file. With
// the default isolation it reads nothing secret; with `--instance-isolation
// none` it reads all of it (and the router warns at start).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../router/client.js';
import { spawnCli, spawnRouter, stopCli } from '../support/cli.js';
import { callDataPlane } from '../support/router.js';
import { waitFor } from '../support/wait-for.js';

const SNOOP = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/secret-snoop.mjs');
const TEMPORAL_SECRET = 'temporal-api-key-that-children-must-not-see';
const agent = new Agent();
const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => agent.close());

interface Snooped {
  secrets: string[];
  report: { unmount: { status: number | null } | null; listed: Record<string, string>; read: Record<string, string>; env: Record<string, string> };
  answer: string;
  routerOutput: string;
  logs: string[];
  files: { environ: string; state: string; token: string };
}

/** Starts a router (no admin token given: it generates and keeps one), runs the snoop as a deployment, returns what it got. */
async function snoopOn(routerArgs: string[]): Promise<Snooped> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-isolation-'));
  // TEMPORAL_API_KEY stands for any secret in the router's environment.
  const router = await startRouter(stateDir, routerArgs, { SAFEROLL_ADMIN_TOKEN: undefined, TEMPORAL_API_KEY: TEMPORAL_SECRET });
  const token = /SAFEROLL_ADMIN_TOKEN=(\S+)/.exec(router.output())?.[1];
  if (token === undefined) throw new Error(`no generated token in: ${router.output()}`);
  const admin = new AdminClient({ adminUrl: router.adminUrl, token });
  cleanups.push(() => admin.close());

  await admin.putEndpoint('snooped', { authMode: 'key' });
  const keys = await admin.getKeys('snooped');
  const files = {
    environ: `/proc/${router.child.pid}/environ`,
    state: path.join(stateDir, 'state.json'),
    token: path.join(stateDir, 'admin-token'),
  };
  await admin.putDeployment('snooped', 'blue', {
    instanceCount: 1,
    process: {
      command: process.execPath,
      args: [SNOOP],
      env: { SNOOP_UNMOUNT: stateDir, SNOOP_LIST: JSON.stringify([stateDir]), SNOOP_READ: JSON.stringify(Object.values(files)) },
      readinessPath: '/healthz',
    },
  });
  await waitFor(async () => (await admin.getDeployment('snooped', 'blue')).provisioningState === 'Succeeded', 20_000, 'the snoop ready');
  await admin.setTraffic('snooped', { blue: 100 });
  const answer = await callDataPlane(router.dataUrl, agent, 'snooped', { key: keys.primaryKey, method: 'GET', path: '/report' });
  expect(answer.status).toBe(200);
  return {
    secrets: [token, TEMPORAL_SECRET, keys.primaryKey, keys.secondaryKey],
    report: JSON.parse(answer.body) as Snooped['report'],
    answer: answer.body,
    routerOutput: router.output(),
    logs: await admin.deploymentLogs('snooped', 'blue', 5),
    files,
  };
}

async function startRouter(stateDir: string, args: string[], env: Record<string, string | undefined>) {
  if (args.length === 0) return track(await spawnRouter(stateDir, env));
  // spawnRouter takes no extra flags: the same, with them.
  const p = spawnCli(['router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir, ...args], env);
  const line = await waitFor(
    () => /data plane (\S+)\s+admin API (\S+)/.exec(p.output()) ?? (p.child.exitCode !== null ? Promise.reject(new Error(p.output())) : null),
    20_000,
    'router started',
  );
  return track({ ...p, dataUrl: line[1] as string, adminUrl: line[2] as string });
}

function track<T extends { child: ChildProcess; exited: Promise<unknown> }>(router: T): T {
  cleanups.push(async () => {
    await stopCli(router);
  });
  return router;
}

describe("process instances and the router's secrets", () => {
  it("by default, an instance reads neither the router's environment nor its state dir, and cannot uncover it", async () => {
    const { secrets, report, answer, files, logs } = await snoopOn([]);
    for (const secret of secrets) expect(answer).not.toContain(secret);
    expect(report.read[files.environ]).not.toMatch(/^ok:/);
    expect(report.read[files.state]).toBe('ENOENT');
    expect(report.read[files.token]).toBe('ENOENT');
    expect(report.listed[path.dirname(files.state)]).toBe('ok: []');
    expect(report.unmount?.status).not.toBe(0);
    // Its own environment holds none of the router's secrets either.
    expect(Object.keys(report.env).filter((name) => name.startsWith('TEMPORAL_') || name === 'SAFEROLL_ADMIN_TOKEN')).toEqual([]);
    // Logs still reach the (hidden) state dir.
    expect(logs).toContainEqual(expect.stringMatching(/^\[0\] snoop report /));
  });

  it('with --instance-isolation none, it can read them, and the router says so when it starts', async () => {
    const { secrets, report, answer, files, routerOutput } = await snoopOn(['--instance-isolation', 'none']);
    expect(routerOutput).toContain('warning: --instance-isolation none: process deployments run as this user and can read');
    expect(report.read[files.state]).toContain(secrets[2]);
    expect(report.read[files.token]).toContain(secrets[0]);
    expect(report.read[files.environ]).toContain(TEMPORAL_SECRET);
    expect(answer).toContain(secrets[2]);
  });
});
