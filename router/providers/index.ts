// Picks the deployment provider for a deployment source by its shape: URLs
// that already run ({ upstreams }) or a command the router starts ({ process }).
// The source is shared/contracts.ts's DeploymentSource; the admin API validates it with zod.

import type { DeploymentSource } from '../../shared/contracts.js';
import { ProcessProvider } from './process.js';
import type { LaunchSettings } from './process-run.js';
import type { DeploymentProvider, InstanceRecord } from './provider.js';
import { UpstreamsProvider } from './upstreams.js';

export type { DeploymentProvider, InstanceRecord, InstanceState, InstanceView } from './provider.js';
export type { ProcessProviderOptions } from './process.js';
export type { InstanceIsolation } from './instance-isolation.js';
export type { LaunchSettings } from './process-run.js';
export { ProcessProvider } from './process.js';
export { UpstreamsProvider } from './upstreams.js';

/** Used by the process provider; the upstreams provider needs none of it. */
export interface ProviderOptions {
  /** "endpoint/deployment" */
  readonly deploymentKey: string;
  readonly logDir: string;
  readonly launch: LaunchSettings;
  readonly readinessTimeoutMs?: number | undefined;
  readonly stopGraceMs?: number | undefined;
  /** What records() returned before the router restarted. */
  readonly restore?: readonly InstanceRecord[] | undefined;
}

export function createProvider(spec: DeploymentSource, options: ProviderOptions): DeploymentProvider {
  if ('upstreams' in spec) return new UpstreamsProvider(spec.upstreams);
  return new ProcessProvider({ ...options, spec: spec.process });
}
