// The Envoy nodes the xDS server has heard from: the config version each one
// acknowledged per resource type, its last contact, where its admin
// interface is (its stats), and the last config it rejected. This is what
// `GET /v1/dataplane` shows.
import { request } from 'undici';

export type ResourceKind = 'clusters' | 'routes';

export interface Rejection {
  kind: ResourceKind;
  version: string;
  message: string;
  at: string;
}

export interface NodeState {
  id: string;
  adminUrl?: string | undefined;
  lastContact: number;
  acked: Partial<Record<ResourceKind, string>>;
  /** The version last sent, per kind: a node that asks again with an older one rejected it. */
  served: Partial<Record<ResourceKind, string>>;
  rejected?: Rejection | undefined;
}

export interface NodeView {
  id: string;
  adminUrl: string | null;
  lastContact: string;
  /** The config version this node runs (the lower of its clusters' and routes' versions). */
  acknowledgedVersion: string | null;
  acknowledged: Partial<Record<ResourceKind, string>>;
  inSync: boolean;
  rejected: Rejection | null;
}

export class FleetNodes {
  private readonly nodes = new Map<string, NodeState>();

  constructor(
    private readonly log: (line: string) => void = (line) => console.warn(line),
    /** Why a node rejected a config, from its admin interface (config_dump's error_state), when it can be read. */
    private readonly explain: (node: NodeState, kind: ResourceKind) => Promise<string | undefined> = readRejectionDetail,
  ) {}

  /**
   * Records one discovery request: contact, what it runs, and a rejection:
   * it was sent a newer version than the one it asks with, so it kept its own.
   */
  saw(id: string, kind: ResourceKind, acked: string, adminUrl: string | undefined, detail: string | undefined): NodeState {
    let node = this.nodes.get(id);
    if (!node) {
      node = { id, lastContact: 0, acked: {}, served: {} };
      this.nodes.set(id, node);
    }
    node.lastContact = Date.now();
    if (adminUrl) node.adminUrl = adminUrl;
    if (acked !== '') node.acked[kind] = acked;
    const sent = node.served[kind];
    if (sent !== undefined && acked !== sent && Number(acked || 0) < Number(sent)) {
      if (node.rejected?.kind !== kind || node.rejected.version !== sent) this.reject(node, kind, sent, acked, detail);
    } else if (node.rejected?.kind === kind && acked !== '' && Number(acked) >= Number(node.rejected.version)) {
      node.rejected = undefined;
    }
    return node;
  }

  private reject(node: NodeState, kind: ResourceKind, version: string, kept: string, detail: string | undefined): void {
    const rejection: Rejection = { kind, version, message: detail ?? 'rejected (reading why from its admin interface)', at: new Date().toISOString() };
    node.rejected = rejection;
    const report = (message: string): void => {
      rejection.message = message;
      this.log(`saferoll router: Envoy node "${node.id}" rejected ${kind} version ${version} and keeps serving version ${kept || 'none'}: ${message}`);
    };
    if (detail !== undefined) {
      report(detail);
      return;
    }
    this.explain(node, kind).then(
      (why) => report(why ?? 'rejected; see its log'),
      () => report('rejected; see its log'),
    );
  }

  /** A node the router itself started: its admin URL is known before it first asks for config. */
  announce(id: string, adminUrl: string): void {
    const node = this.nodes.get(id);
    if (node) node.adminUrl = adminUrl;
    else this.nodes.set(id, { id, adminUrl, lastContact: 0, acked: {}, served: {} });
  }

  forget(id: string): void {
    this.nodes.delete(id);
  }

  all(): NodeState[] {
    return [...this.nodes.values()];
  }

  view(latest: string): NodeView[] {
    return this.all().map((node) => {
      const { clusters, routes } = node.acked;
      const running = clusters !== undefined && routes !== undefined ? (Number(clusters) < Number(routes) ? clusters : routes) : null;
      return {
        id: node.id,
        adminUrl: node.adminUrl ?? null,
        lastContact: node.lastContact === 0 ? '' : new Date(node.lastContact).toISOString(),
        acknowledgedVersion: running,
        acknowledged: { ...node.acked },
        // What it acknowledged is the newest, and nothing else was sent to it since.
        inSync: clusters === latest && routes === latest && node.served.clusters === latest && node.served.routes === latest,
        rejected: node.rejected ?? null,
      };
    });
  }
}

/** The `details` of the first `error_state` in the node's config dump (Envoy keeps its last rejection there). */
export async function readRejectionDetail(node: NodeState): Promise<string | undefined> {
  if (!node.adminUrl) return undefined;
  const answer = await request(`${node.adminUrl}/config_dump`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) return undefined;
  return findErrorDetails(JSON.parse(text) as unknown);
}

function findErrorDetails(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findErrorDetails(item);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  const state = record.error_state as { details?: unknown } | undefined;
  if (state && typeof state.details === 'string') return state.details;
  for (const child of Object.values(record)) {
    const found = findErrorDetails(child);
    if (found) return found;
  }
  return undefined;
}
