// The rules an endpoint's traffic and mirror maps must obey. Pure: the
// caller applies a change only when this returns without throwing, so a
// rejected PATCH changes nothing.
import { SaferollError } from '../shared/errors.js';
import type { DeploymentRecord } from './model.js';

export const MAX_MIRROR_PERCENT = 50;

function reject(field: string, message: string): never {
  throw new SaferollError('SAFEROLL_E_VALIDATION', `${field}: ${message}`, { field });
}

export function checkTrafficRules(
  traffic: Record<string, number>,
  mirrorTraffic: Record<string, number>,
  deploymentOf: (name: string) => DeploymentRecord | undefined,
  previous: { traffic: Record<string, number>; mirrorTraffic: Record<string, number> } = { traffic: {}, mirrorTraffic: {} },
): void {
  let sum = 0;
  for (const [name, percent] of Object.entries(traffic)) {
    checkPercent(`traffic.${name}`, percent);
    sum += percent;
    if (percent > 0) checkRoutable(`traffic.${name}`, name, deploymentOf, (previous.traffic[name] ?? 0) > 0);
  }
  if (sum !== 0 && sum !== 100) reject('traffic', `live traffic must sum to 0 or 100, got ${sum}`);

  const mirrored = Object.entries(mirrorTraffic).filter(([, percent]) => percent > 0);
  for (const [name, percent] of Object.entries(mirrorTraffic)) checkPercent(`mirrorTraffic.${name}`, percent);
  if (mirrored.length > 1) reject('mirrorTraffic', `mirror traffic may go to one deployment only, got ${mirrored.map(([n]) => n).join(', ')}`);
  const [entry] = mirrored;
  if (!entry) return;
  const [name, percent] = entry;
  const field = `mirrorTraffic.${name}`;
  if (percent > MAX_MIRROR_PERCENT) reject(field, `mirror traffic is at most ${MAX_MIRROR_PERCENT}%, got ${percent}`);
  checkRoutable(field, name, deploymentOf, (previous.mirrorTraffic[name] ?? 0) > 0);
  if ((traffic[name] ?? 0) > 0) reject(field, `deployment "${name}" has live traffic and cannot also receive mirror traffic`);
}

function checkPercent(field: string, percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) reject(field, `must be an integer from 0 to 100, got ${percent}`);
}

// A deployment that already carries traffic may keep a share whatever its
// state (it is what serves now, and a rollback must be able to name it);
// anything else must be Succeeded to get a share.
function checkRoutable(
  field: string,
  name: string,
  deploymentOf: (name: string) => DeploymentRecord | undefined,
  alreadyRouted: boolean,
): void {
  const deployment = deploymentOf(name);
  if (!deployment) reject(field, `deployment "${name}" does not exist`);
  const state = deployment.provisioningState;
  if (state !== 'Succeeded' && !(alreadyRouted && state !== 'Deleting')) {
    reject(field, `deployment "${name}" is ${deployment.provisioningState}; only Succeeded deployments get traffic`);
  }
}

/** Drops zero entries so stored maps stay small and comparisons simple. */
export function withoutZeros(map: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(map).filter(([, percent]) => percent > 0));
}
