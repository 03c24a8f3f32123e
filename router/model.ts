// The routing core's data model: what is persisted in the state file and
// returned (in views) by the admin API. Everything keyed by user input is a
// Map (looked up by name) or, inside a deployment's source, which is plain
// JSON data handed to its provider, a null-prototype object: a name such as
// "constructor" or "__proto__" can never reach the language's own objects.
import type { DeploymentSource } from '../shared/contracts.js';
import type { ShadowCompareSpec } from '../shared/shadow-compare.js';
import type { InstanceRecord } from './providers/provider.js';

export type ProvisioningState = 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';

export interface DeploymentRecord {
  endpoint: string;
  name: string;
  instanceCount: number;
  source: DeploymentSource;
  /** Where Prometheus scrapes each instance (service discovery), when the deployment serves metrics. */
  metricsPath?: string | undefined;
  provisioningState: ProvisioningState;
  /** Why the last provisioning failed, when it did. */
  reason?: string | undefined;
  /** Process instances to re-adopt after a restart. */
  instances: InstanceRecord[];
  createdAt: string;
  updatedAt: string;
}

/** An endpoint's guard lease (guard-lease.ts). The expiry is absolute, so a restarted router knows whether it lapsed. */
export type GuardRecord =
  | { state: 'held'; fallback: string; ttlMs: number; expiresAt: string }
  | { state: 'fired'; fallback: string; ttlMs: number; expiredAt: string; firedAt: string; reason: string };

export interface EndpointRecord {
  name: string;
  authMode: 'key';
  description?: string | undefined;
  tags: Map<string, string>;
  keys: { primary: string; secondary: string };
  /** deployment -> percent of live traffic; sums to 0 or 100. */
  traffic: Map<string, number>;
  /** deployment -> percent of requests copied to it; at most one entry. */
  mirrorTraffic: Map<string, number>;
  /** How the mirror deployment's answers are compared with blue's (shadow comparison); none: dropped unread. */
  mirrorCompare?: ShadowCompareSpec | undefined;
  /** The controller's guard lease (guard-lease.ts), while held and after it fired. */
  guard?: GuardRecord | undefined;
  createdAt: string;
  updatedAt: string;
}

export interface RouterState {
  version: 1;
  endpoints: Map<string, EndpointRecord>;
  /** Keyed by `${endpoint}/${deployment}`. */
  deployments: Map<string, DeploymentRecord>;
}

export function deploymentKey(endpoint: string, deployment: string): string {
  return `${endpoint}/${deployment}`;
}

export function emptyState(): RouterState {
  return { version: 1, endpoints: new Map(), deployments: new Map() };
}

/**
 * A deep copy that keeps Maps and null-prototype objects as they are
 * (structuredClone turns a null-prototype object into a plain one). Copies
 * whatever fields records gain, so a change made on the copy never leaks.
 */
export function cloneState<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneState(item)) as T;
  if (value instanceof Map) return new Map([...(value as Map<unknown, unknown>)].map(([k, v]) => [k, cloneState(v)])) as T;
  if (typeof value !== 'object' || value === null) return value;
  const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(copy, key, { value: cloneState(item), enumerable: true, writable: true, configurable: true });
  }
  return copy as T;
}
