// Long bakes continue as new before the history grows large: the rollout
// carries its step, bake progress, undo list and decisions across runs and
// ends as it would have in one run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});
afterAll(() => bed?.close());

describe('long bakes', () => {
  it('continue as new mid-bake, carrying step, bake progress and decisions, and still promote', async () => {
    const key = await createEndpointWithBlue(bed.router, 'long-bake');
    const load = startLoad(bed.router.router.dataUrl, 'long-bake', key);
    const policy = testPolicy({
      analysis: { intervalMs: 200 },
      steps: [
        { kind: 'create' },
        { kind: 'mirror', percent: 50, forMs: 3_000 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
    });
    // A tiny limit forces several continue-as-new during the 3 s bake.
    const handle = await bed.start('long-bake', modelServer('green'), policy, { maxHistoryEvents: 30 });
    const result = await rolloutResult(handle);
    expect((await load.stop()).failures).toEqual([]);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.filter((d) => d.message.startsWith('continued as new')).length).toBeGreaterThan(0);
    const runs = await bed.env.client.workflow.list({ query: `WorkflowId = "rollout-long-bake"` });
    let count = 0;
    for await (const _ of runs) count++;
    expect(count).toBeGreaterThan(1);
    expect((await bed.router.admin.getEndpoint('long-bake')).traffic).toEqual({ green: 100 });
  });
});
