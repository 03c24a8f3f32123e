// `saferoll rollback` and `saferoll promote --force` as a user runs them (the
// built CLI), against rollouts run with stand-in activities: what they answer
// while a rollout can act on them, and the clear refusal when it cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowHarness, fastPolicy, outcome, statusWhen } from '../support/workflow-harness.js';
import { cliEnv, run } from './helpers.js';

let harness: WorkflowHarness;
const env = cliEnv();

beforeAll(async () => {
  harness = await WorkflowHarness.create('cli-controls');
});
afterAll(() => harness?.close());

describe('saferoll rollback', () => {
  it('puts blue back during the watch window, with the reason', async () => {
    const router = harness.endpoint('cli-rb-watch');
    const handle = await harness.start(
      router,
      fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 200 }, { kind: 'deleteBlue', afterMs: 600_000 }]),
    );
    await statusWhen(handle, (s) => s.phase === 'DeletingBlue', 'in the watch window');
    const cli = await run(['rollback', router.endpoint, '--reason', 'errors in the logs'], env);
    expect(cli.output).toBe(`rollout-${router.endpoint}: rolling back: blue "blue" back to 100%, mirror off\n`);
    expect(cli.code).toBe(0);
    const result = await outcome(handle);
    expect(result.reason).toBe('errors in the logs');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);

    const again = await run(['rollback', router.endpoint], env);
    expect(again.code).toBe(2);
    expect(again.output).toBe(`saferoll rollback: the rollout on ${router.endpoint} already rolled back: errors in the logs\n`);
  });

  it('says there is nothing to roll back to once blue was deleted', async () => {
    const router = harness.endpoint('cli-rb-late');
    const handle = await harness.start(
      router,
      fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 200 }, { kind: 'deleteBlue', afterMs: 0 }]),
    );
    expect((await outcome(handle)).outcome).toBe('promoted');
    const cli = await run(['rollback', router.endpoint], env);
    expect(cli.code).toBe(2);
    expect(cli.output).toBe(
      `saferoll rollback: nothing to roll back to on ${router.endpoint}: the rollout promoted "green" and deleted blue "blue"; roll the old version out again with saferoll start\n`,
    );
  });
});

describe('saferoll promote --force', () => {
  it('goes on past the failed gate of a held rollout, where a plain promote is refused', async () => {
    const router = harness.endpoint('cli-force');
    router.green = 'failing';
    const handle = await harness.start(
      router,
      fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 60_000 }, { kind: 'traffic', percent: 100, forMs: 200 }], {
        onFailure: { action: 'pause', keepGreen: false, timeoutMs: 600_000 },
      }),
    );
    await statusWhen(handle, (s) => s.phase === 'HeldOnFailure', 'held');
    const plain = await run(['promote', router.endpoint], env);
    expect(plain.code).toBe(2);
    expect(plain.output).toMatch(/^saferoll promote: held on a failed gate \(gate failed: .*\): promote --force goes on past it, rollback rolls back\n$/);

    router.green = 'healthy';
    const forced = await run(['promote', router.endpoint, '--force', '--reason', 'flaky probe'], env);
    expect(forced.output).toMatch(/^rollout-cli-force-\d+-\d+: forced on past the failed gate: the plan goes on from step 2 \(traffic 10% 1m\)\n$/);
    expect(forced.code).toBe(0);
    const result = await outcome(handle);
    expect(result.outcome).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining([expect.stringMatching(/: flaky probe$/)]));
  });

  it('--reason without --force is a usage error, before anything is asked of Temporal', async () => {
    const cli = await run(['promote', 'some-endpoint', '--reason', 'x'], { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(cli.code).toBe(2);
    expect(cli.output).toBe('saferoll promote: --reason goes with --force (a plain promote needs no reason)\n');
  });
});
