// The processes under test: model-server upstreams, the saferoll router
// (the built CLI in a child process, configured through AdminClient) and the
// plain undici proxy baseline.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { AdminClient } from '../../router/client.js';
import { spawnChild, type Child } from './children.js';
import { repoRoot } from './paths.js';

export interface RunningUrl {
  child: Child;
  url: string;
}

const URL_PATTERN = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/** examples/model-server.mjs with no added latency: as fast as a Node upstream gets. */
export async function startUpstream(version: string): Promise<RunningUrl> {
  const { child, match } = await spawnChild(`upstream ${version}`, process.execPath, [path.join(repoRoot, 'examples', 'model-server.mjs')], {
    env: { ...process.env, PORT: '0', LATENCY_MS: '0', ERROR_RATE: '0', MODEL_VERSION: version },
    ready: URL_PATTERN,
  });
  return { child, url: match?.[1] as string };
}

export async function startPlainProxy(upstreamUrl: string): Promise<RunningUrl> {
  const { child, match } = await spawnChild('plain undici proxy', process.execPath, [path.join(repoRoot, 'dist', 'bench', 'support', 'plain-proxy.js')], {
    env: { ...process.env, PORT: '0', UPSTREAM_URL: upstreamUrl },
    ready: URL_PATTERN,
  });
  return { child, url: match?.[1] as string };
}

export interface RunningRouter {
  child: Child;
  dataUrl: string;
  adminUrl: string;
  admin: AdminClient;
}

/** `node [nodeFlags] dist/cli/main.js router` on free ports with a fresh state dir. */
export async function startRouterProcess(stateDir: string, nodeFlags: string[] = []): Promise<RunningRouter> {
  const token = randomBytes(24).toString('hex');
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
  const { child, match } = await spawnChild(
    'saferoll router',
    process.execPath,
    [...nodeFlags, cli, 'router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir],
    { env: { ...process.env, SAFEROLL_ADMIN_TOKEN: token }, ready: /data plane (http:\/\/\S+)\s+admin API (http:\/\/\S+)/ },
  );
  const dataUrl = match?.[1] as string;
  const adminUrl = match?.[2] as string;
  return { child, dataUrl, adminUrl, admin: new AdminClient({ adminUrl, token }) };
}

export interface EndpointSetup {
  endpoint: string;
  /** Bearer key of the endpoint's data plane. */
  key: string;
}

/**
 * An endpoint with `blue` (live 100%) and `green` deployments; green gets
 * `mirrorPercent` of copies (0 = mirroring off).
 */
export async function configureEndpoint(admin: AdminClient, endpoint: string, blueUrl: string, greenUrl: string, mirrorPercent: number): Promise<EndpointSetup> {
  await admin.putEndpoint(endpoint, { authMode: 'key', description: 'router-overhead benchmark' });
  await admin.putDeployment(endpoint, 'blue', { instanceCount: 1, upstreams: [blueUrl] });
  await admin.putDeployment(endpoint, 'green', { instanceCount: 1, upstreams: [greenUrl] });
  for (const name of ['blue', 'green']) await waitSucceeded(admin, endpoint, name);
  await admin.setTraffic(endpoint, { blue: 100 }, mirrorPercent > 0 ? { green: mirrorPercent } : {});
  const keys = await admin.getKeys(endpoint);
  return { endpoint, key: keys.primaryKey };
}

async function waitSucceeded(admin: AdminClient, endpoint: string, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const deployment = await admin.getDeployment(endpoint, name);
    if (deployment.provisioningState === 'Succeeded') return;
    if (deployment.provisioningState === 'Failed') throw new Error(`deployment ${endpoint}/${name} failed: ${deployment.reason ?? 'no reason given'}`);
    if (Date.now() > deadline) throw new Error(`deployment ${endpoint}/${name} still ${deployment.provisioningState} after 15 s`);
    await sleep(50);
  }
}

/** Sum of a counter's samples whose labels include all of `labels`, from exposition text. */
export function counterSum(metricsText: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
