// Envoy cluster names of saferoll's deployments: one cluster per deployment
// and kind of traffic, so Envoy's per-cluster stats keep live, mirror and
// direct traffic apart. The name carries the deployment's creation time: a
// deployment deleted and created again (the next rollout's green) gets fresh
// clusters, so the new one never inherits the old one's counters.
import type { TrafficKind } from '../metrics.js';

export const TRAFFIC_KINDS: readonly TrafficKind[] = ['live', 'mirror', 'direct'];

// Endpoint and deployment names are [a-z0-9-], so `~` cannot occur in them.
const SEPARATOR = '~';
const PREFIX = 'sr';

export interface ClusterIdentity {
  endpoint: string;
  deployment: string;
  kind: TrafficKind;
  generation: string;
}

export function generationOf(createdAt: string): string {
  const ms = Date.parse(createdAt);
  return Number.isFinite(ms) ? ms.toString(36) : '0';
}

export function clusterName(id: ClusterIdentity): string {
  return [PREFIX, id.endpoint, id.deployment, id.kind, id.generation].join(SEPARATOR);
}

export function parseClusterName(name: string): ClusterIdentity | undefined {
  const parts = name.split(SEPARATOR);
  if (parts.length !== 5 || parts[0] !== PREFIX) return undefined;
  const [, endpoint, deployment, kind, generation] = parts as [string, string, string, string, string];
  if (kind !== 'live' && kind !== 'mirror' && kind !== 'direct') return undefined;
  return { endpoint, deployment, kind, generation };
}
