// The JSON shapes the admin API answers with (and the typed client returns).
// Maps of the model become null-prototype objects here, the one place they
// turn into JSON.
import type { MirrorMap, TrafficMap } from '../shared/contracts.js';
import { nullPrototypeDict } from '../shared/reserved-keys.js';
import type { ShadowCompareSpec } from '../shared/shadow-compare.js';
import { guardView, type GuardView } from './guard-lease.js';
import type { DeploymentRecord, EndpointRecord, ProvisioningState } from './model.js';
import type { DeploymentProvider, InstanceView } from './providers/provider.js';
import type { ShadowDiff } from './shadow/shadow-diffs.js';
import type { ShadowResult } from './shadow/shadow-metrics.js';

export interface EndpointView {
  name: string;
  authMode: 'key';
  description?: string | undefined;
  tags: Record<string, string>;
  traffic: TrafficMap;
  mirrorTraffic: MirrorMap;
  /** How the mirror's answers are compared with blue's, when they are. */
  mirrorCompare?: ShadowCompareSpec | undefined;
  /** The guard lease, while held or after it fired. */
  guard?: GuardView | undefined;
  /** Path of the endpoint on the data plane. */
  scoringPath: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentView {
  endpoint: string;
  name: string;
  instanceCount: number;
  provisioningState: ProvisioningState;
  reason?: string | undefined;
  source: DeploymentRecord['source'];
  metricsPath?: string | undefined;
  instances: InstanceView[];
  createdAt: string;
  updatedAt: string;
}

/** GET .../shadow-diffs: a deployment's shadow comparison so far and its last mismatching pairs (newest first). */
export interface ShadowDiffsView {
  endpoint: string;
  deployment: string;
  /** Pairs by result since the deployment was created. */
  pairs: Record<ShadowResult, number>;
  diffs: ShadowDiff[];
}

export interface EndpointKeys {
  primaryKey: string;
  secondaryKey: string;
}

export function endpointView(record: EndpointRecord): EndpointView {
  return {
    name: record.name,
    authMode: record.authMode,
    description: record.description,
    tags: nullPrototypeDict(record.tags),
    traffic: nullPrototypeDict(record.traffic),
    mirrorTraffic: nullPrototypeDict(record.mirrorTraffic),
    mirrorCompare: record.mirrorCompare,
    guard: guardView(record.guard),
    scoringPath: `/${record.name}/`,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export function deploymentView(record: DeploymentRecord, provider: DeploymentProvider | undefined): DeploymentView {
  return {
    endpoint: record.endpoint,
    name: record.name,
    instanceCount: record.instanceCount,
    provisioningState: record.provisioningState,
    reason: record.reason,
    source: record.source,
    metricsPath: record.metricsPath,
    instances: provider ? [...provider.instances()] : [],
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
