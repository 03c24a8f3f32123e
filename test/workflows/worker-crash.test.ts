// A worker process killed with SIGKILL in the middle of a bake: a new worker
// picks the rollout up from its history and finishes with the same outcome.
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

describe('worker crash', () => {
  it('a rollout survives its worker being killed mid-bake and is promoted by the next one', async () => {
    const key = await createEndpointWithBlue(bed.router, 'crash-test');
    const load = startLoad(bed.router.router.dataUrl, 'crash-test', key);
    const first = bed.spawnWorkerProcess();
    const policy = testPolicy({
      steps: [
        { kind: 'create' },
        { kind: 'mirror', percent: 50, forMs: 2_000 },
        { kind: 'traffic', percent: 10, forMs: 6_000 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
    });
    const handle = await bed.start('crash-test', modelServer('green'), policy);
    await waitFor(async () => (await handle.query(statusQuery).catch(() => undefined))?.phase === 'Traffic', 60_000, 'traffic bake running');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = bed.spawnWorkerProcess();
    const result = await rolloutResult(handle);
    const report = await load.stop();
    second.child.kill('SIGTERM');
    expect(await second.exited).toMatchObject({ code: 0 });
    expect(result.outcome, result.reason).toBe('promoted');
    expect(report.failures).toEqual([]);
    expect((await bed.router.admin.getEndpoint('crash-test')).traffic).toEqual({ green: 100 });
    expect((await bed.router.admin.listDeployments('crash-test')).map((d) => d.name)).toEqual(['green']);
  });
});
