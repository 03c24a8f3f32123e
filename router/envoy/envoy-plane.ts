// The Envoy data plane (`--data-plane envoy`): the routing core serves xDS to
// a fleet of Envoys, runs `replicas` of them itself on the data port, and
// reads their stats into its /metrics. Envoys started elsewhere with
// `saferoll envoy-bootstrap` join the same fleet (config and metrics).
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { SaferollError } from '../../shared/errors.js';
import { freePort } from '../../shared/free-port.js';
import type { Registry } from '../registry.js';
import { envoyBinary } from './envoy-binary.js';
import { EnvoyFleet } from './envoy-fleet.js';
import { FleetNodes, readRejectionDetail, type NodeView, type ResourceKind } from './fleet-nodes.js';
import { FleetStats } from './fleet-stats.js';
import type { RenderedResources } from './resources.js';
import { readRouting } from './routing-input.js';
import { XdsServer } from './xds-server.js';

/** Longest wait for the fleet to apply a change before instances are stopped. */
const SYNC_WAIT_MS = 5_000;
/** An Envoy silent this long is not waited for (it polls every 250 ms). */
const CONTACT_MS = 3_000;

export interface EnvoyPlaneOptions {
  registry: Registry;
  stateDir: string;
  host: string;
  /** 0: a free port, chosen before the replicas start (they all bind the same one). */
  port: number;
  xdsHost: string;
  xdsPort: number;
  upstreamTimeoutMs: number;
  replicas: number;
  concurrency?: number | undefined;
  readyTimeoutMs?: number | undefined;
  /** On close, how long the replicas may take to finish in-flight requests (default 30 s). */
  drainTimeoutMs?: number | undefined;
  /** The owner marker of the state dir (router/owner-marker.ts): what proves an Envoy ours when a restarted router takes it back. */
  marker: string;
  /** Tests only: changes what is served (to send a config Envoy rejects). */
  transformResources?: ((resources: RenderedResources) => RenderedResources) | undefined;
}

export interface DataPlaneView {
  kind: 'envoy';
  xdsUrl: string;
  version: string;
  replicas: Array<{ nodeId: string; pid: number; adminUrl: string; adopted: boolean }>;
  nodes: NodeView[];
}

export interface RunningEnvoyPlane {
  dataUrl: string;
  xdsUrl: string;
  nodes: FleetNodes;
  fleet: EnvoyFleet;
  /** Reads every Envoy's stats into the routing core's series; called before /metrics renders. */
  refreshMetrics(): Promise<void>;
  /** Whether the hang-ups read are whole: every Envoy read counts them (fleet-stats.ts). */
  countsHangups(): boolean;
  view(): DataPlaneView;
  /**
   * Resolves once every Envoy in contact runs the current config (at most
   * `timeoutMs`: an Envoy that stopped polling does not hold the router up).
   */
  untilInSync(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEnvoyPlane(options: EnvoyPlaneOptions): Promise<RunningEnvoyPlane> {
  const binary = envoyBinary();
  const port = options.port === 0 ? await freePort() : options.port;
  const late: { fleet?: EnvoyFleet } = {};
  // Why a replica of ours rejected a config is in its log; for an Envoy run elsewhere, in its config dump.
  const nodes = new FleetNodes(undefined, async (node, kind) => {
    const local = late.fleet?.isReplica(node.id) ? await rejectionInLog(late.fleet, node.id, kind) : undefined;
    return local ?? readRejectionDetail(node);
  });
  const routing = () => readRouting(options.registry);
  const xds = new XdsServer({ routing, nodes, upstreamTimeoutMs: options.upstreamTimeoutMs, transform: options.transformResources });
  const xdsServer = createHttpServer({ keepAliveTimeout: 65_000 }, xds.handle);
  await listen(xdsServer, options.xdsPort, options.xdsHost);
  const xdsUrl = urlOf(xdsServer);
  let fleet: EnvoyFleet;
  try {
    fleet = await EnvoyFleet.start({
      binary,
      replicas: options.replicas,
      dir: path.join(options.stateDir, 'envoy'),
      xdsUrl,
      host: options.host,
      port,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      concurrency: options.concurrency,
      readyTimeoutMs: options.readyTimeoutMs,
      marker: options.marker,
      nodes,
      checkPort: () => (options.port === 0 ? Promise.resolve() : checkPortFree(options.host, port).then(() => undefined)),
    });
  } catch (err) {
    await closeServer(xdsServer);
    throw err;
  }
  late.fleet = fleet;
  const stats = new FleetStats();
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    dataUrl: `http://${host}:${port}`,
    xdsUrl,
    nodes,
    fleet,
    refreshMetrics: () => stats.refresh(nodes.all(), routing()),
    countsHangups: () => stats.countsHangups(),
    view: () => ({ kind: 'envoy', xdsUrl, version: xds.latest().version, replicas: fleet.running(), nodes: nodes.view(xds.latest().version) }),
    async untilInSync(timeoutMs = SYNC_WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const version = xds.latest().version;
        const recent = Date.now() - CONTACT_MS;
        const behind = nodes.view(version).filter((n) => n.lastContact !== '' && Date.parse(n.lastContact) >= recent && !n.inSync);
        if (behind.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      await fleet.stop(options.drainTimeoutMs ?? 30_000);
      await closeServer(xdsServer);
    },
  };
}

/** Envoy's own words for the rejection (`REST config for /v3/discovery:routes rejected: ...`), waited for briefly: its output arrives through a pipe. */
async function rejectionInLog(fleet: EnvoyFleet, nodeId: string, kind: ResourceKind): Promise<string | undefined> {
  const marker = `/v3/discovery:${kind} rejected: `;
  for (let attempt = 0; attempt < 20; attempt++) {
    const line = (await fleet.lastLines(nodeId)).findLast((l) => l.includes(marker));
    if (line) return line.slice(line.indexOf(marker) + marker.length);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** The port Envoy will bind, refused at once when another program holds it. */
function checkPortFree(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new SaferollError(
          'SAFEROLL_E_DATA_PLANE',
          err.code === 'EADDRINUSE' ? `data plane port ${port} on ${host} is already in use` : `data plane port ${port} on ${host}: ${err.message}`,
        ),
      );
    });
    probe.listen(port, host, () => probe.close(() => resolve(port)));
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new SaferollError(
          'SAFEROLL_E_DATA_PLANE',
          err.code === 'EADDRINUSE' ? `xDS port ${port} on ${host} is already in use` : `xDS port ${port} on ${host}: ${err.message}`,
        ),
      );
    });
    server.listen(port, host, () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
