// The rules a deployment change must obey beyond the admin API's schema. Pure:
// the registry applies a change only when these return without throwing.
import { SaferollError } from '../shared/errors.js';
import type { DeploymentSource } from '../shared/contracts.js';
import type { DeploymentRecord, EndpointRecord } from './model.js';
import { violationError, type RuleViolation } from './rule-violation.js';

export function checkInstanceCount(source: DeploymentSource, count: number): void {
  const violation = instanceCountViolation(source, count);
  if (violation) throw violationError(violation);
}

/** An upstreams deployment has at most one instance per URL. */
export function instanceCountViolation(source: DeploymentSource, count: number): RuleViolation | undefined {
  if ('upstreams' in source && count > source.upstreams.length) {
    return { field: 'instanceCount', message: `must be at most the number of upstreams (${source.upstreams.length}), got ${count}` };
  }
  return undefined;
}

/**
 * A PUT of deployment `name` that already exists: refused while it is being
 * deleted or when the spec differs. True when it must provision again.
 */
export function checkRedeploy(
  existing: DeploymentRecord,
  name: string,
  source: DeploymentSource,
  instanceCount: number,
  metricsPath: string | undefined,
): boolean {
  if (existing.provisioningState === 'Deleting')
    throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is being deleted; try again when it is gone`);
  if (JSON.stringify(existing.source) !== JSON.stringify(source) || existing.metricsPath !== metricsPath) {
    throw new SaferollError(
      'SAFEROLL_E_CONFLICT',
      `deployment "${name}" already exists with a different spec; a new version is a new deployment (or DELETE this one first)`,
    );
  }
  // A changed count scales; the same spec again after a failure provisions again.
  return existing.instanceCount !== instanceCount || existing.provisioningState === 'Failed';
}

/** Only a deployment at rest (Succeeded or Failed) can be scaled. */
export function checkScalable(record: DeploymentRecord, name: string): void {
  if (record.provisioningState === 'Creating' || record.provisioningState === 'Updating' || record.provisioningState === 'Deleting') {
    throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is ${record.provisioningState}; try again when it is Succeeded or Failed`);
  }
}

/** A deployment is deleted only once no live or mirror traffic goes to it. */
export function checkNoTraffic(endpoint: EndpointRecord, name: string): void {
  const live = endpoint.traffic.get(name) ?? 0;
  const mirror = endpoint.mirrorTraffic.get(name) ?? 0;
  if (live > 0 || mirror > 0) {
    throw new SaferollError(
      'SAFEROLL_E_CONFLICT',
      `deployment "${name}" still has ${live > 0 ? `${live}% live` : `${mirror}% mirror`} traffic; move its traffic away first`,
    );
  }
}
