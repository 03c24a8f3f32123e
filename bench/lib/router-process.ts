// The routing core as its own process (`node dist/cli/main.js router`), the
// way users run it, so its CPU and event loop are not shared with the load
// generator. Fresh state dir, OS-chosen ports, a typed admin client.
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AdminClient } from '../../router/client.js';
import { waitSucceeded } from '../../router/deployment-wait.js';
import { ROUTER_NODE_FLAGS } from '../../router/node-flags.js';
import { projectRoot } from '../../shared/project-root.js';
import { log } from './log.js';
import { killIfAlive, onCleanup, startChild, type TrackedChild } from './processes.js';

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const MODEL_SERVER = path.join(projectRoot(), 'examples', 'model-server.mjs');
export const CLI_MAIN = path.join(projectRoot(), 'dist', 'cli', 'main.js');

export interface RouterProcess {
  child: TrackedChild;
  dataUrl: string;
  adminUrl: string;
  token: string;
  admin: AdminClient;
  stop(): Promise<void>;
}

export interface RouterProcessOptions {
  /** Extra `saferoll router` flags, e.g. ['--upstream-timeout', '5000']. */
  args?: string[];
  /** Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeFlags?: string[];
  name?: string;
  /** Another build's dist/cli/main.js (A/B of two builds in one run); default this one's. */
  cliMain?: string;
  /** Without ROUTER_NODE_FLAGS (the flags saferoll starts its router with), to measure what they change. */
  bareNode?: boolean;
}

export async function startRouterProcess(options: RouterProcessOptions = {}): Promise<RouterProcess> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-bench-router-'));
  const removeState = onCleanup('router state dir', () => rm(stateDir, { recursive: true, force: true }));
  const { child, match } = await startChild(
    options.name ?? 'router',
    process.execPath,
    [
      ...(options.bareNode ? [] : ROUTER_NODE_FLAGS),
      ...(options.nodeFlags ?? []),
      options.cliMain ?? CLI_MAIN,
      'router',
      '--port',
      '0',
      '--admin-port',
      '0',
      '--state-dir',
      stateDir,
      '--readiness-timeout',
      '20000',
      ...(options.args ?? []),
    ],
    {
      env: { ...process.env, SAFEROLL_ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
      ready: /data plane (http:\/\/\S+)\s+admin API (http:\/\/\S+)/,
      readyTimeoutMs: 30_000,
      graceMs: 15_000,
      critical: true,
    },
  );
  const dataUrl = match?.[1] ?? '';
  const adminUrl = match?.[2] ?? '';
  const admin = new AdminClient({ adminUrl, token: BENCH_ADMIN_TOKEN, timeoutMs: 30_000 });
  log(`router pid ${child.pid}: data ${dataUrl}, admin ${adminUrl}`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // The router stops its process instances when it drains. If it had to
      // be killed, or died, they are left running: find them by their log
      // files, which live in this router's own state dir.
      await admin.close().catch(() => undefined);
      await child.stop(15_000);
      for (const pid of await processesWritingUnder(stateDir)) killIfAlive(pid);
      await rm(stateDir, { recursive: true, force: true });
      removeState();
    })();
    return stopping;
  };
  onCleanup('router', stop);
  return { child, dataUrl, adminUrl, token: BENCH_ADMIN_TOKEN, admin, stop };
}

/** Pids whose stdout is a file under `dir` (Linux /proc; none elsewhere). */
async function processesWritingUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const target = await readlink(`/proc/${entry}/fd/1`).catch(() => '');
    if (target.startsWith(`${dir}/`)) pids.push(Number(entry));
  }
  return pids;
}

/** A `process` deployment body running the sample model server. */
export function modelServerProcess(version: string, env: Record<string, string> = {}) {
  return { command: process.execPath, args: [MODEL_SERVER], env: { MODEL_VERSION: version, ...env }, readinessPath: '/healthz' };
}

/** Creates an endpoint whose blue deployment runs the model server (or points at upstream URLs) at 100%; returns its key. */
export async function createEndpointWithBlue(
  admin: AdminClient,
  endpoint: string,
  blue: { process: ReturnType<typeof modelServerProcess>; instanceCount?: number } | { upstreams: string[] },
  blueName = 'blue',
): Promise<string> {
  await admin.putEndpoint(endpoint, { authMode: 'key' });
  if ('upstreams' in blue) await admin.putDeployment(endpoint, blueName, { instanceCount: blue.upstreams.length, upstreams: blue.upstreams });
  else await admin.putDeployment(endpoint, blueName, { instanceCount: blue.instanceCount ?? 1, process: blue.process });
  await waitSucceeded(admin, endpoint, blueName, { timeoutMs: 30_000 });
  await admin.setTraffic(endpoint, { [blueName]: 100 });
  return (await admin.getKeys(endpoint)).primaryKey;
}

/** Sums the samples of one metric whose labels include all of `match` from Prometheus text. */
export function sumSamples(text: string, metric: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const labels = rest[0] === '{' ? rest.slice(1, rest.indexOf('}')) : '';
    if (!Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}
