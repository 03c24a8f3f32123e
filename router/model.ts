// The routing core's data model: what is persisted in the state file and
// returned (in views) by the admin API.
import type { GuardRecord } from './guard-lease.js';
import type { InstanceRecord } from './providers/provider.js';

export type ProvisioningState = 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';

export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Absolute paths of NAME=value files the router reads at each spawn; their values are never stored. */
  envFiles?: string[] | undefined;
  readinessPath: string;
}

export type DeploymentSource = { upstreams: string[] } | { process: ProcessSpec };

export interface DeploymentRecord {
  endpoint: string;
  name: string;
  instanceCount: number;
  source: DeploymentSource;
  provisioningState: ProvisioningState;
  /** Why the last provisioning failed, when it did. */
  reason?: string | undefined;
  /** Process instances to re-adopt after a restart. */
  instances: InstanceRecord[];
  createdAt: string;
  updatedAt: string;
}

export interface EndpointRecord {
  name: string;
  authMode: 'key';
  description?: string | undefined;
  tags: Record<string, string>;
  keys: { primary: string; secondary: string };
  /** deployment -> percent of live traffic; sums to 0 or 100. */
  traffic: Record<string, number>;
  /** deployment -> percent of requests copied to it; at most one entry. */
  mirrorTraffic: Record<string, number>;
  /** The controller's guard lease (guard-lease.ts), while held and after it fired. */
  guard?: GuardRecord | undefined;
  createdAt: string;
  updatedAt: string;
}

export interface RouterState {
  version: 1;
  endpoints: Record<string, EndpointRecord>;
  /** Keyed by `${endpoint}/${deployment}`. */
  deployments: Record<string, DeploymentRecord>;
}

export function deploymentKey(endpoint: string, deployment: string): string {
  return `${endpoint}/${deployment}`;
}

export function emptyState(): RouterState {
  return { version: 1, endpoints: {}, deployments: {} };
}
