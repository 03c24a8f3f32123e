// Rollouts end to end on a real Temporal dev server, a real routing core and
// real model server processes, with steady client traffic throughout.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHistory } from '../support/histories.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});
afterAll(() => bed?.close());

describe('rollout workflow', () => {
  it('promotes a good green to 100% and deletes blue, with no failed client request', async () => {
    const key = await createEndpointWithBlue(bed.router, 'promote-ok');
    const load = startLoad(bed.router.router.dataUrl, 'promote-ok', key);
    const handle = await bed.start('promote-ok', modelServer('green', { LATENCY_MS: '5' }));
    const result = await rolloutResult(handle);
    const report = await load.stop();
    expect(result.outcome, result.reason).toBe('promoted');
    expect((await bed.router.admin.getEndpoint('promote-ok')).traffic).toEqual({ green: 100 });
    expect((await bed.router.admin.listDeployments('promote-ok')).map((d) => d.name)).toEqual(['green']);
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green).toBeGreaterThan(0);
    expect(result.decisions.some((d) => d.message.includes('passed'))).toBe(true);
    await recordHistory('promoted', handle);
  });

  it('catches a green answering 5xx while mirrored, with zero failed client requests', async () => {
    const key = await createEndpointWithBlue(bed.router, 'mirror-5xx');
    const load = startLoad(bed.router.router.dataUrl, 'mirror-5xx', key);
    // Smoke requests pass (the first answers are fine), then every answer fails.
    const green = modelServer('green', { ERROR_RATE: '1' });
    const policy = testPolicy({ steps: testPolicy().steps.filter((s) => s.kind !== 'smoke') });
    const handle = await bed.start('mirror-5xx', green, policy);
    const result = await rolloutResult(handle);
    await recordHistory('rolled-back-in-mirror', handle);
    const report = await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    expect(result.reason).toMatch(/gate failed/);
    expect(result.lastGate?.checks.find((c) => c.metric === 'errorRate')?.phase).toBe('Failed');
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green ?? 0).toBe(0);
    const endpoint = await bed.router.admin.getEndpoint('mirror-5xx');
    expect(endpoint.traffic).toEqual({ blue: 100 });
    expect(endpoint.mirrorTraffic).toEqual({});
    expect((await bed.router.admin.listDeployments('mirror-5xx')).map((d) => d.name)).toEqual(['blue']);
  });

  it('rolls back a green 300 ms slower than blue at 10% live traffic on the latency gate', async () => {
    const key = await createEndpointWithBlue(bed.router, 'slow-green');
    const load = startLoad(bed.router.router.dataUrl, 'slow-green', key);
    const policy = testPolicy({ steps: testPolicy().steps.filter((s) => s.kind !== 'mirror' && s.kind !== 'smoke') });
    const result = await rolloutResult(await bed.start('slow-green', modelServer('green', { LATENCY_MS: '305' }), policy));
    await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^traffic 10%/);
    expect(result.lastGate?.checks.find((c) => c.metric === 'p95')?.phase).toBe('Failed');
    expect((await bed.router.admin.getEndpoint('slow-green')).traffic).toEqual({ blue: 100 });
  });

  it('refuses, before changing anything, a green named like an existing deployment or an endpoint without a clear blue', async () => {
    await createEndpointWithBlue(bed.router, 'bad-input');
    const clash = await (await bed.start('bad-input', modelServer('blue'))).result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(clash).toBeInstanceOf(WorkflowFailedError);
    expect(((clash as WorkflowFailedError).cause as Error).message).toMatch(/is the current blue|already exists/);

    await bed.router.admin.setTraffic('bad-input', {});
    const noBlue = await (await bed.start('bad-input', modelServer('green'))).result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(((noBlue as WorkflowFailedError).cause as Error).message).toMatch(/no deployment has 100% of live traffic/);
    expect((await bed.router.admin.listDeployments('bad-input')).map((d) => d.name)).toEqual(['blue']);
  });
});
