// The watch window end to end: a real routing core, real model servers,
// steady client traffic and the built CLI. After promotion green serves 100%
// while blue is kept for deleteBlue.after; `saferoll rollback` puts blue back
// at once, with no failed client request, and the rollout ends rolled back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutResult } from '../../cli/follow-rollout.js';
import { statusQuery } from '../../workflows/messages.js';
import { cliEnv, run } from '../cli/helpers.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});
afterAll(() => bed?.close());

describe('the watch window after promotion', () => {
  it('saferoll rollback puts blue back to 100% while green is watched alone, with zero failed client requests', async () => {
    const endpoint = 'watch-rollback';
    const key = await createEndpointWithBlue(bed.router, endpoint);
    const load = startLoad(bed.router.router.dataUrl, endpoint, key);
    const policy = testPolicy({
      // Loose latency: this test is about the operator's way back, not the gate.
      slo: { latency: { p95Ms: 60_000 }, errorRate: 0.01, minRequests: 20 },
      steps: [{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 1_500 }, { kind: 'deleteBlue', afterMs: 600_000 }],
    });
    const handle = await bed.start(endpoint, modelServer('green'), policy);
    const watching = await waitFor(
      async () => {
        const s = await handle.query(statusQuery);
        return s.phase === 'DeletingBlue' && s.lastGate?.phase === 'Successful' ? s : undefined;
      },
      60_000,
      'green watched alone in the watch window',
    );
    expect(watching.traffic).toEqual({ blue: 0, green: 100 });
    expect(watching.lastGate?.checks.map((c) => c.metric)).toEqual(['p95', 'errorRate', 'abortRate', 'requests']);
    expect((await bed.router.admin.getEndpoint(endpoint)).traffic).toEqual({ green: 100 });
    expect((await bed.router.admin.listDeployments(endpoint)).map((d) => d.name).sort()).toEqual(['blue', 'green']);

    const cli = await run(['rollback', endpoint, '--reason', 'support tickets about green'], cliEnv(bed.router));
    expect(cli.output).toBe(`rollout-${endpoint}: rolling back: blue "blue" back to 100%, mirror off\n`);
    expect(cli.code).toBe(0);
    const result = await rolloutResult(handle);
    const report = await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('support tickets about green');
    const view = await bed.router.admin.getEndpoint(endpoint);
    expect(view.traffic).toEqual({ blue: 100 });
    expect(view.mirrorTraffic).toEqual({});
    expect((await bed.router.admin.listDeployments(endpoint)).map((d) => d.name)).toEqual(['blue']);
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green).toBeGreaterThan(0);
  });
});
