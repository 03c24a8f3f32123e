// Five rollouts held at once in the five phases where a crash is most
// dangerous, for one fault to hit them all:
//   creating      the create step waits for a green that is slow to get ready
//   mirroring     the mirror bake (its green is made bad after the fault)
//   traffic       a live bake at 10% or 100% (promoted by an operator after the fault)
//   deletingBlue  past the point of no return: blue (ignores SIGTERM) being deleted
//   rollingBack   a rollback deleting a bad green (ignores SIGTERM)
// and the checks that each ends in its true outcome and a clean final state.
import type { Client } from '@temporalio/client';
import { expect } from 'vitest';
import { chaosPolicy, degrade, modelServer, steps, stubbornServer } from './chaos-rollouts.js';
import { ChaosRollout } from './chaos-rollout.js';
import type { FinalState } from './final-state.js';
import type { RouterProcess } from './router-process.js';

/** Long enough to hold a phase until the fault; ended by the test (degrade, promote), not by the clock. */
const HOLD_MS = 120_000;

export interface PhaseRollouts {
  creating: ChaosRollout;
  mirroring: ChaosRollout;
  traffic: ChaosRollout;
  deletingBlue: ChaosRollout;
  rollingBack: ChaosRollout;
}

export const EXPECTED: Record<keyof PhaseRollouts, FinalState> = {
  creating: 'promoted',
  mirroring: 'rolled-back',
  traffic: 'promoted',
  deletingBlue: 'promoted',
  rollingBack: 'rolled-back',
};

export interface PhaseOptions {
  /** Endpoint name prefix, unique per test file (workflow ids derive from it). */
  prefix: string;
  trafficPercent: 10 | 100;
  /** How long the green of `creating` takes to get ready: longer than staging the others takes. */
  readyDelayMs: number;
}

/** Starts the five rollouts and returns once every one is in its phase (asserted). */
export async function rolloutsInEveryPhase(router: RouterProcess, client: Client, taskQueue: string, options: PhaseOptions): Promise<PhaseRollouts> {
  const { prefix, trafficPercent } = options;
  const [creating, mirroring, traffic, deletingBlue, rollingBack] = await Promise.all([
    ChaosRollout.prepare(router, `${prefix}-create`),
    ChaosRollout.prepare(router, `${prefix}-mirror`),
    ChaosRollout.prepare(router, `${prefix}-traffic`),
    ChaosRollout.prepare(router, `${prefix}-delete-blue`, { blue: stubbornServer('blue') }),
    ChaosRollout.prepare(router, `${prefix}-rollback`),
  ]);
  const rollouts = { creating, mirroring, traffic, deletingBlue, rollingBack };
  const findDeployment = (r: ChaosRollout, name: string) => router.admin.findDeployment(r.endpoint, name);

  await traffic.start(
    client,
    taskQueue,
    modelServer('green'),
    chaosPolicy(steps(trafficPercent === 10 ? { mirror: 1_500, ten: HOLD_MS } : { mirror: 1_500, hundred: HOLD_MS })),
  );
  await deletingBlue.start(client, taskQueue, modelServer('green'), chaosPolicy(steps({ mirror: 1_500, hundred: HOLD_MS })));
  await mirroring.start(client, taskQueue, modelServer('green'), chaosPolicy(steps({ mirror: HOLD_MS })));
  await traffic.reach(`${trafficPercent}% bake`, (s) => s.phase === 'Traffic' && s.traffic.green === trafficPercent);
  await deletingBlue.reach('100% bake passing', (s) => s.phase === 'Traffic' && s.traffic.green === 100 && s.lastGate?.phase === 'Successful');
  await creating.start(client, taskQueue, modelServer('green', { READY_DELAY_MS: String(options.readyDelayMs) }), chaosPolicy(steps()));
  await creating.reach('green provisioning', async (s) => s.phase === 'Creating' && (await findDeployment(creating, 'green'))?.instances.length === 1);
  // Answers 500: the mirror gate fails; its deletion lasts the router's 5 s stop grace.
  await rollingBack.start(client, taskQueue, stubbornServer('green', 500), chaosPolicy(steps({ mirror: HOLD_MS })));
  await rollingBack.reach(
    'rollback deleting green',
    async (s) => s.phase === 'RollingBack' && (await findDeployment(rollingBack, 'green'))?.provisioningState === 'Deleting',
  );
  await deletingBlue.promote();
  await deletingBlue.reach(
    'blue being deleted',
    async (s) => s.phase === 'DeletingBlue' && (await findDeployment(deletingBlue, 'blue'))?.provisioningState === 'Deleting',
  );

  const now = await Promise.all([creating, mirroring, traffic].map((r) => r.status()));
  expect(now.map((s) => [s.phase, s.traffic.green, s.mirrorPercent])).toEqual([
    ['Creating', 0, 0],
    ['Mirror', 0, 50],
    ['Traffic', trafficPercent, 0],
  ]);
  expect((await findDeployment(rollingBack, 'green'))?.provisioningState).toBe('Deleting');
  return rollouts;
}

/**
 * After the fault: the mirror's green turns bad (the gate must see it), and
 * the live bake is promoted once its gate has passed again after `sinceMs`.
 */
export async function steerAfterFault(rollouts: PhaseRollouts, router: RouterProcess, sinceMs: number): Promise<void> {
  await degrade(router.admin, rollouts.mirroring.endpoint, 'green', 0.5);
  await rollouts.traffic.reach(
    'live gate passing after the fault',
    (s) => s.phase === 'Traffic' && s.lastGate?.phase === 'Successful' && s.lastGate.atMs > sinceMs,
  );
  await rollouts.traffic.promote();
}

/** Each rollout ends in its true outcome and clean final state, and its clients saw no failure. */
export async function expectTrueOutcomes(rollouts: PhaseRollouts): Promise<void> {
  const names = Object.keys(EXPECTED) as Array<keyof PhaseRollouts>;
  const results = await Promise.all(names.map((name) => rollouts[name].result()));
  expect(
    results.map((r) => r.outcome),
    results.map((r) => `${r.endpoint}: ${r.reason}`).join('; '),
  ).toEqual(names.map((name) => EXPECTED[name]));
  for (const [i, name] of names.entries()) {
    if (EXPECTED[name] === 'rolled-back') expect(results[i]?.reason).toMatch(/gate failed: .*errors .*% > 5%/);
    await rollouts[name].expectFinal(EXPECTED[name]);
    const report = await rollouts[name].stopLoad();
    expect(report.failures, rollouts[name].endpoint).toEqual([]);
    expect(report.sent).toBeGreaterThan(0);
  }
}
