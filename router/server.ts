// Starts the routing core: the registry (state + instances), the data plane
// on its port and the admin API on its own, with the state dir locked for this
// router alone. `close()` drains: stop accepting, let in-flight requests
// finish, then stop the instances and release the lock.
import { realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminHandler } from './admin-api.js';
import { DataPlane } from './data-plane.js';
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
}

export interface RunningRouter {
  /** e.g. http://127.0.0.1:8080 */
  dataUrl: string;
  adminUrl: string;
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
  const metrics = new RouterMetrics();
  // The registry reports gone instances before the data plane exists (during recovery).
  const late: { plane?: DataPlane } = {};
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
  });
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
