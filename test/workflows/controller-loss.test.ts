// The controller dies with green at 10% live (its worker SIGKILLed, none to
// take over): the routing core's guard lease lapses and the router puts blue
// back to 100% on its own; the next worker finds the lease fired and ends the
// rollout rolled back with the controller-lost reason, green deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/messages.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let bed: RolloutTestBed;
beforeAll(async () => {
  bed = await RolloutTestBed.create();
});
afterAll(() => bed?.close());

describe('controller loss', () => {
  it('the router puts blue back when the lease lapses; the returning controller rolls back with the controller-lost reason', async () => {
    const key = await createEndpointWithBlue(bed.router, 'lost-ctl');
    const load = startLoad(bed.router.router.dataUrl, 'lost-ctl', key);
    const first = bed.spawnWorkerProcess();
    const policy = testPolicy({
      analysis: { intervalMs: 500, controllerLossTimeoutMs: 2_000 },
      steps: [
        { kind: 'create' },
        { kind: 'traffic', percent: 10, forMs: 600_000 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
    });
    const handle = await bed.start('lost-ctl', modelServer('green'), policy);
    await waitFor(async () => (await handle.query(statusQuery).catch(() => undefined))?.traffic.green === 10, 60_000, 'green at 10% live');
    expect((await bed.router.admin.getEndpoint('lost-ctl')).guard).toMatchObject({ state: 'held', fallback: 'blue', ttl: '2s' });

    first.child.kill('SIGKILL');
    await first.exited;
    // No controller now: the routing core acts on its own within the TTL (plus scheduling margin).
    const fired = await waitFor(
      async () => {
        const view = await bed.router.admin.getEndpoint('lost-ctl');
        return view.guard?.state === 'fired' ? view : undefined;
      },
      15_000,
      'the router fires the lease',
    );
    expect(fired.traffic).toEqual({ blue: 100 });
    expect(fired.mirrorTraffic).toEqual({});
    const firedAt = (fired.guard as { firedAt: string }).firedAt;

    bed.spawnWorkerProcess();
    const result = await rolloutResult(handle);
    const report = await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe(`controller lost: the routing core's guard lease lapsed at ${firedAt} and put "blue" back to 100% (mirror off)`);
    expect(result.failedStep?.description).toMatch(/^traffic 10%/);
    const view = await bed.router.admin.getEndpoint('lost-ctl');
    expect(view.traffic).toEqual({ blue: 100 });
    expect(view.guard).toBeUndefined();
    expect((await bed.router.admin.listDeployments('lost-ctl')).map((d) => d.name)).toEqual(['blue']);
    expect(report.failures).toEqual([]);
  });
});
