// Starts the routing core: the registry (state + instances), the data plane
// on its port and the admin API on its own, with the state dir locked for this
// router alone. `close()` drains: stop accepting, let in-flight requests
// finish, then stop the instances and release the lock.
import { realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminHandler } from './admin-api.js';
import { DataPlane } from './data-plane.js';
import { startEnvoyPlane, type RunningEnvoyPlane } from './envoy/envoy-plane.js';
import type { RenderedResources } from './envoy/resources.js';
import { RouterMetrics } from './metrics.js';
import { ownerMarker } from './owner-marker.js';
import type { InstanceIsolation } from './providers/instance-isolation.js';
import { Registry } from './registry.js';
import { lockStateDir } from './state-dir-lock.js';

export interface RouterOptions {
  port: number;
  adminPort: number;
  host?: string;
  adminHost?: string;
  stateDir: string;
  adminToken: string;
  upstreamTimeoutMs?: number;
  readinessTimeoutMs?: number;
  stopGraceMs?: number;
  maxMirrorInFlight?: number;
  /** Shadow comparison pairs in flight beyond this are shed (default 64: at most 8 MiB of copied answers). */
  maxShadowPairsInFlight?: number;
  drainTimeoutMs?: number;
  /**
   * `namespaces` (default): process instances cannot see the state dir or the
   * router's processes (providers/instance-isolation.ts). `none`: they run as
   * the router's user with access to both.
   */
  instanceIsolation?: InstanceIsolation['mode'];
  /**
   * Who carries the traffic: `builtin` (default; this process, Node and
   * undici) or `envoy` (a fleet of Envoys fed over xDS, router/envoy/).
   */
  dataPlane?: 'builtin' | 'envoy';
  envoy?: {
    /** Envoys this router runs on the data port (default 1). */
    replicas?: number;
    xdsHost?: string;
    /** Where the fleet polls for config (default 8082; 0 = any free port). */
    xdsPort?: number;
    /** Worker threads per Envoy (default: Envoy's, one per core). */
    concurrency?: number;
    readyTimeoutMs?: number;
    /** Tests only: changes what is served over xDS. */
    transformResources?: (resources: RenderedResources) => RenderedResources;
  };
}

export interface RunningRouter {
  /** e.g. http://127.0.0.1:8080 */
  dataUrl: string;
  adminUrl: string;
  /** The Envoy data plane, when it is the one serving. */
  envoy?: RunningEnvoyPlane | undefined;
  close(): Promise<void>;
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const lock = await lockStateDir(options.stateDir);
  if (lock.file === undefined)
    console.warn(
      `saferoll router: state dir ${options.stateDir} cannot be written (read-only or full): serving its state without a lock; every change is refused (507) until it can be written`,
    );
  try {
    return await startLocked(options, () => lock.release());
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(options: RouterOptions, releaseLock: () => Promise<void>): Promise<RunningRouter> {
  // The registry reports gone instances before the data plane exists (during recovery).
  const late: { plane?: DataPlane; envoy?: RunningEnvoyPlane } = {};
  // With Envoy, hang-ups are counted only while every Envoy of the fleet counts them (README, Data planes); otherwise their family is left out, not shown short.
  const metrics = new RouterMetrics(options.dataPlane === 'envoy' ? { countsAborts: () => late.envoy?.countsHangups() ?? false } : {});
  // The real path: the cover is mounted there, whatever symlink led to it.
  const stateDir = await realpath(options.stateDir);
  const registry = await Registry.open({
    stateDir: options.stateDir,
    metrics,
    readinessTimeoutMs: options.readinessTimeoutMs ?? 30_000,
    stopGraceMs: options.stopGraceMs ?? 5_000,
    launch: {
      isolation: options.instanceIsolation === 'none' ? { mode: 'none' } : { mode: 'namespaces', hiddenDirs: [stateDir] },
      marker: await ownerMarker(stateDir),
    },
    onOriginsChanged: (origins) => late.plane?.prune(origins),
    untilApplied: () => late.envoy?.untilInSync() ?? Promise.resolve(),
    dataPlane: options.dataPlane ?? 'builtin',
  });
  if (options.dataPlane === 'envoy') return startWithEnvoy(options, registry, metrics, releaseLock, (envoy) => (late.envoy = envoy));
  const plane = new DataPlane({
    routes: registry.routes,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? 30_000,
    maxMirrorInFlight: options.maxMirrorInFlight ?? 256,
    maxShadowPairsInFlight: options.maxShadowPairsInFlight ?? 64,
    connectionsPerInstance: 256,
  });
  late.plane = plane;

  const dataServer = createServer({ keepAliveTimeout: 65_000 }, plane.handle);
  const adminServer: Server = createServer(
    createAdminHandler({ registry, metrics, adminToken: options.adminToken, listenAddress: () => adminServer.address() }),
  );
  try {
    await listen(dataServer, options.port, options.host ?? '127.0.0.1', 'data plane');
    await listen(adminServer, options.adminPort, options.adminHost ?? '127.0.0.1', 'admin API');
  } catch (err) {
    dataServer.close();
    adminServer.close();
    await registry.close('stop');
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const drained = Promise.all([stopAccepting(dataServer), stopAccepting(adminServer)]);
      await withTimeout(plane.idle(), options.drainTimeoutMs ?? 30_000);
      dataServer.closeAllConnections();
      adminServer.closeAllConnections();
      await drained;
      await plane.close();
      await registry.close('stop');
      await releaseLock();
    })();
    return closing;
  };

  return { dataUrl: urlOf(dataServer), adminUrl: urlOf(adminServer), close };
}

// The routing core as the control plane of an Envoy fleet: the admin API here, the traffic in Envoy.
async function startWithEnvoy(
  options: RouterOptions,
  registry: Registry,
  metrics: RouterMetrics,
  releaseLock: () => Promise<void>,
  started: (envoy: RunningEnvoyPlane) => void,
): Promise<RunningRouter> {
  let envoy: RunningEnvoyPlane;
  try {
    envoy = await startEnvoyPlane({
      registry,
      stateDir: options.stateDir,
      host: options.host ?? '127.0.0.1',
      port: options.port,
      xdsHost: options.envoy?.xdsHost ?? options.adminHost ?? '127.0.0.1',
      xdsPort: options.envoy?.xdsPort ?? 8082,
      upstreamTimeoutMs: options.upstreamTimeoutMs ?? 30_000,
      replicas: options.envoy?.replicas ?? 1,
      concurrency: options.envoy?.concurrency,
      readyTimeoutMs: options.envoy?.readyTimeoutMs,
      transformResources: options.envoy?.transformResources,
      drainTimeoutMs: options.drainTimeoutMs,
      marker: await ownerMarker(await realpath(options.stateDir)),
    });
  } catch (err) {
    await registry.close('stop');
    throw err;
  }
  started(envoy);
  const adminServer: Server = createServer(
    createAdminHandler({
      registry,
      metrics,
      adminToken: options.adminToken,
      listenAddress: () => adminServer.address(),
      dataPlane: { beforeMetrics: () => envoy.refreshMetrics(), view: () => envoy.view(), applied: () => envoy.untilInSync() },
    }),
  );
  try {
    await listen(adminServer, options.adminPort, options.adminHost ?? '127.0.0.1', 'admin API');
  } catch (err) {
    await envoy.close();
    await registry.close('stop');
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = stopAccepting(adminServer);
      adminServer.closeAllConnections();
      await stopped;
      await envoy.close();
      await registry.close('stop');
      await releaseLock();
    })();
    return closing;
  };
  return { dataUrl: envoy.dataUrl, adminUrl: urlOf(adminServer), envoy, close };
}

function listen(server: Server, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`${what} port ${port} on ${host} is already in use`) : err);
    });
    server.listen(port, host, () => resolve());
  });
}

function stopAccepting(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
