// The rules on the order of a policy's steps (create first, smoke before any
// traffic, traffic never decreasing, ...), checked over the steps that parsed.

import type { PolicyStep, PolicyStepKind } from './types.js';

export type StepOf<K extends PolicyStepKind> = Extract<PolicyStep, { kind: K }>;

/** A step that parsed, with its position in the `steps` list. */
export interface IndexedStep {
  index: number;
  step: PolicyStep;
}

/**
 * The rules on the order of steps, over the steps that parsed. `complete` is
 * false when some item failed to parse; then a missing `create` is not
 * reported, since the broken item may be the create.
 */
export function stepOrderProblems(steps: readonly IndexedStep[], itemCount: number, complete: boolean): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const creates = steps.filter(({ step }) => step.kind === 'create');
  for (const { index } of creates) {
    if (index !== 0) problems.push({ path: [index], message: 'create must be the first step, and appear once' });
  }
  if (creates.length === 0 && complete) {
    problems.push({ path: itemCount === 0 ? [] : [0], message: 'the first step must be create (green has to exist before anything else)' });
  }

  const lastIndex = itemCount - 1;
  let firstBakeIndex = Infinity; // first mirror or traffic step
  let firstTrafficIndex = Infinity;
  let previousTraffic: StepOf<'traffic'> | undefined;
  for (const { index, step } of steps) {
    if (step.kind === 'mirror' || step.kind === 'traffic') firstBakeIndex = Math.min(firstBakeIndex, index);
    switch (step.kind) {
      case 'smoke':
        if (index > firstBakeIndex) {
          problems.push({ path: [index], message: 'smoke must come before any mirror or traffic step: it proves green before green sees real traffic' });
        }
        break;
      case 'mirror':
        if (index > firstTrafficIndex) {
          // The router never mirrors to a deployment that already takes live traffic.
          problems.push({ path: [index], message: 'mirror must come before the first traffic step' });
        }
        break;
      case 'traffic':
        firstTrafficIndex = Math.min(firstTrafficIndex, index);
        if (previousTraffic !== undefined && step.percent < previousTraffic.percent) {
          problems.push({
            path: [index, 'traffic', 'percent'],
            message: `traffic must not decrease: ${step.percent}% comes after ${previousTraffic.percent}%`,
          });
        }
        previousTraffic = step;
        break;
      case 'deleteBlue':
        if (index !== lastIndex) {
          problems.push({ path: [index], message: 'deleteBlue must be the last step, and appear once' });
        } else if (previousTraffic?.percent !== 100) {
          // Deleting blue while it still serves users would be an outage.
          const now = previousTraffic === undefined ? 'there is no traffic step' : `the last one sends ${previousTraffic.percent}%`;
          problems.push({ path: [index], message: `deleteBlue needs a traffic step of 100% before it (${now})` });
        }
        break;
      default:
        break;
    }
  }
  return problems;
}
