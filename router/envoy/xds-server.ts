// The routing core's xDS server for the Envoy fleet: REST-JSON v3 polling
// (`POST /v3/discovery:clusters`, `POST /v3/discovery:routes`). Each poll
// renders the current routing; a change gets a new version, monotonic even
// across restarts of the routing core (it starts from the clock). Routes are
// sent to a node only once it runs every cluster they name, so a traffic
// change never points an Envoy at a cluster it does not have yet. A
// rejected config (NACK: the node re-sends its old version with
// error_detail) is logged and shown, and the node keeps its last good one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBody, sendJson } from '../http-util.js';
import { isSaferollError } from '../../shared/errors.js';
import type { FleetNodes, NodeState, ResourceKind } from './fleet-nodes.js';
import { CLUSTER_TYPE, ROUTE_TYPE, renderResources, type RenderedResources, type RenderOptions } from './resources.js';
import type { EndpointInput } from './routing-input.js';

interface Snapshot {
  version: string;
  clustersText: string;
  routesText: string;
  clusterNames: ReadonlySet<string>;
  routeClusters: readonly string[];
}

/** Snapshots kept to answer a node that is behind (its routes must match the clusters it runs). */
const KEPT_SNAPSHOTS = 64;
const PATHS: Record<string, ResourceKind> = { '/v3/discovery:clusters': 'clusters', '/v3/discovery:routes': 'routes' };
const TYPES: Record<ResourceKind, string> = { clusters: CLUSTER_TYPE, routes: ROUTE_TYPE };

export interface XdsServerOptions extends RenderOptions {
  routing: () => EndpointInput[];
  nodes: FleetNodes;
  /** Applied to what is rendered before it is served (tests use it to send a config Envoy rejects). */
  transform?: ((resources: RenderedResources) => RenderedResources) | undefined;
}

export class XdsServer {
  private readonly snapshots: Snapshot[] = [];

  constructor(private readonly options: XdsServerOptions) {}

  /** The current config, with a new version when it differs from the last one rendered. */
  latest(): Snapshot {
    let rendered = renderResources(this.options.routing(), this.options);
    if (this.options.transform) rendered = this.options.transform(rendered);
    const clustersText = JSON.stringify(rendered.clusters);
    const routesText = JSON.stringify([rendered.routes]);
    const last = this.snapshots.at(-1);
    if (last && last.clustersText === clustersText && last.routesText === routesText) return last;
    const previous = last ? Number(last.version) : 0;
    const snapshot: Snapshot = {
      version: String(Math.max(Date.now(), previous + 1)),
      clustersText,
      routesText,
      clusterNames: new Set(rendered.clusters.map((c) => (c as { name: string }).name)),
      routeClusters: rendered.routeClusters,
    };
    this.snapshots.push(snapshot);
    if (this.snapshots.length > KEPT_SNAPSHOTS) this.snapshots.shift();
    return snapshot;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, isSaferollError(err) ? 400 : 500, { error: { message: (err as Error).message } });
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const kind = PATHS[path];
    if (req.method !== 'POST' || kind === undefined) {
      sendJson(res, 404, {
        error: { message: `no such xDS route: ${req.method} ${path}; this server answers POST /v3/discovery:clusters and /v3/discovery:routes` },
      });
      return;
    }
    const request = (await readJsonBody(req)) as DiscoveryRequest | undefined;
    const nodeId = request?.node?.id;
    if (typeof nodeId !== 'string' || nodeId === '') {
      sendJson(res, 400, { error: { message: 'node.id: every discovery request must name its node' } });
      return;
    }
    const acked = typeof request?.version_info === 'string' ? request.version_info : '';
    // Over REST, Envoy reports a rejection only by asking again with the version it kept (gRPC would add error_detail).
    const detail = request?.error_detail?.message;
    const adminUrl = request?.node?.metadata?.saferoll_admin_url;
    const node = this.options.nodes.saw(
      nodeId,
      kind,
      acked,
      typeof adminUrl === 'string' ? adminUrl : undefined,
      typeof detail === 'string' ? detail : undefined,
    );
    const latest = this.latest();
    const snapshot = kind === 'clusters' ? latest : this.routesFor(latest, node);
    node.served[kind] = snapshot.version;
    if (acked === snapshot.version) {
      // Nothing new for it: Envoy would parse, validate and hash the whole answer again only to find the config it
      // runs. A 304 (which Envoy's REST fetcher takes as "keep yours") cut an idle Envoy's main thread from 25 to 16 ms
      // of CPU a second at ~9 polls a second. Each poll still carries Envoy's 77 KB request (its node, with the list
      // of every extension it has), which it writes and we parse.
      res.writeHead(304).end();
      return;
    }
    const resources = kind === 'clusters' ? snapshot.clustersText : snapshot.routesText;
    const text = `{"version_info":"${snapshot.version}","resources":${resources},"type_url":"${TYPES[kind]}","nonce":"${snapshot.version}"}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * The newest routes whose clusters the node already runs (it gets the
   * newest clusters with its next clusters poll), never older than the
   * routes it has: a node is not sent back in time.
   */
  private routesFor(latest: Snapshot, node: NodeState): Snapshot {
    const running = this.snapshots.find((s) => s.version === node.acked.clusters);
    // Starting up (no clusters acknowledged yet), or too far behind to tell: the newest.
    if (!running) return latest;
    const has = node.acked.routes === undefined ? 0 : Number(node.acked.routes);
    for (let i = this.snapshots.length - 1; i >= 0; i--) {
      const candidate = this.snapshots[i] as Snapshot;
      if (Number(candidate.version) < has) break;
      if (candidate.routeClusters.every((name) => running.clusterNames.has(name))) return candidate;
    }
    return this.snapshots.find((s) => s.version === node.acked.routes) ?? latest;
  }
}

interface DiscoveryRequest {
  version_info?: unknown;
  node?: { id?: unknown; metadata?: { saferoll_admin_url?: unknown } };
  response_nonce?: unknown;
  error_detail?: { message?: unknown };
}
