// The rules an endpoint's traffic and mirror maps must obey, shared by the
// admin API (a PATCH) and the state loader (a state file read at start-up).
// Pure: the caller applies a change only when no rule is broken, so a
// rejected PATCH changes nothing.
import type { DeploymentRecord } from './model.js';
import { violationError, type RuleViolation } from './rule-violation.js';

export const MAX_MIRROR_PERCENT = 50;

export type PercentMap = ReadonlyMap<string, number>;

export interface Split {
  traffic: PercentMap;
  mirrorTraffic: PercentMap;
}

const NO_SPLIT: Split = { traffic: new Map(), mirrorTraffic: new Map() };

/** Throws a 400 naming the field when `traffic` and `mirrorTraffic` break a rule. */
export function checkTrafficRules(
  traffic: PercentMap,
  mirrorTraffic: PercentMap,
  deploymentOf: (name: string) => DeploymentRecord | undefined,
  previous: Split = NO_SPLIT,
): void {
  const violation = trafficViolation(traffic, mirrorTraffic, deploymentOf, previous);
  if (violation) throw violationError(violation);
}

/** The first rule `traffic` and `mirrorTraffic` break, if any. */
export function trafficViolation(
  traffic: PercentMap,
  mirrorTraffic: PercentMap,
  deploymentOf: (name: string) => DeploymentRecord | undefined,
  previous: Split = NO_SPLIT,
): RuleViolation | undefined {
  let sum = 0;
  for (const [name, percent] of traffic) {
    const field = `traffic.${name}`;
    const bad =
      percentViolation(field, percent) ?? (percent > 0 ? routableViolation(field, name, deploymentOf, (previous.traffic.get(name) ?? 0) > 0) : undefined);
    if (bad) return bad;
    sum += percent;
  }
  if (sum !== 0 && sum !== 100) return { field: 'traffic', message: `live traffic must sum to 0 or 100, got ${sum}` };

  for (const [name, percent] of mirrorTraffic) {
    const bad = percentViolation(`mirrorTraffic.${name}`, percent);
    if (bad) return bad;
  }
  const mirrored = [...mirrorTraffic].filter(([, percent]) => percent > 0);
  if (mirrored.length > 1)
    return { field: 'mirrorTraffic', message: `mirror traffic may go to one deployment only, got ${mirrored.map(([n]) => n).join(', ')}` };
  const [entry] = mirrored;
  if (!entry) return undefined;
  const [name, percent] = entry;
  const field = `mirrorTraffic.${name}`;
  if (percent > MAX_MIRROR_PERCENT) return { field, message: `mirror traffic is at most ${MAX_MIRROR_PERCENT}%, got ${percent}` };
  const bad = routableViolation(field, name, deploymentOf, (previous.mirrorTraffic.get(name) ?? 0) > 0);
  if (bad) return bad;
  if ((traffic.get(name) ?? 0) > 0) return { field, message: `deployment "${name}" has live traffic and cannot also receive mirror traffic` };
  return undefined;
}

function percentViolation(field: string, percent: number): RuleViolation | undefined {
  if (Number.isInteger(percent) && percent >= 0 && percent <= 100) return undefined;
  return { field, message: `must be an integer from 0 to 100, got ${percent}` };
}

// A deployment that already carries traffic may keep a share whatever its
// state (it is what serves now, and a rollback must be able to name it);
// anything else must be Succeeded to get a share.
function routableViolation(
  field: string,
  name: string,
  deploymentOf: (name: string) => DeploymentRecord | undefined,
  alreadyRouted: boolean,
): RuleViolation | undefined {
  const deployment = deploymentOf(name);
  if (!deployment) return { field, message: `deployment "${name}" does not exist` };
  const state = deployment.provisioningState;
  if (state !== 'Succeeded' && !(alreadyRouted && state !== 'Deleting')) {
    return { field, message: `deployment "${name}" is ${state}; only Succeeded deployments get traffic` };
  }
  return undefined;
}

/** Drops zero entries so stored maps stay small and comparisons simple. */
export function withoutZeros(map: PercentMap): Map<string, number> {
  return new Map([...map].filter(([, percent]) => percent > 0));
}
