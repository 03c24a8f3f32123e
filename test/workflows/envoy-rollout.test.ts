// Rollouts end to end through the Envoy data plane: a fleet of 2 Envoys fed
// by the routing core, real model server processes, a real Temporal dev
// server, steady client traffic. The gates read the fleet's stats through
// the routing core's /metrics, as they read the built-in plane's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutResult } from '../../cli/follow-rollout.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFleetInSync } from '../support/envoy.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create({ dataPlane: 'envoy', envoy: { xdsPort: 0, replicas: 2, readyTimeoutMs: 30_000 } });
  await bed.startWorker();
});
afterAll(() => bed?.close());

async function endpointWithBlue(name: string): Promise<string> {
  const key = await createEndpointWithBlue(bed.router, name);
  await waitFleetInSync(bed.router.admin, 2);
  return key;
}

describe('rollouts through a fleet of 2 Envoys', () => {
  it('promotes a good green to 100% and deletes blue, with no failed client request', async () => {
    const key = await endpointWithBlue('envoy-ok');
    const load = startLoad(bed.router.router.dataUrl, 'envoy-ok', key);
    const result = await rolloutResult(await bed.start('envoy-ok', modelServer('green', { LATENCY_MS: '5' })));
    const report = await load.stop();
    expect(result.outcome, result.reason).toBe('promoted');
    expect((await bed.router.admin.getEndpoint('envoy-ok')).traffic).toEqual({ green: 100 });
    expect((await bed.router.admin.listDeployments('envoy-ok')).map((d) => d.name)).toEqual(['green']);
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green).toBeGreaterThan(0);
  });

  it('rolls back from the mirror step a green answering only 500, with no failed client request', async () => {
    const key = await endpointWithBlue('envoy-500');
    const load = startLoad(bed.router.router.dataUrl, 'envoy-500', key);
    const policy = testPolicy({ steps: testPolicy().steps.filter((s) => s.kind !== 'smoke') });
    const result = await rolloutResult(await bed.start('envoy-500', modelServer('green', { ERROR_RATE: '1' }), policy));
    const report = await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    expect(result.lastGate?.checks.find((c) => c.metric === 'errorRate')?.phase).toBe('Failed');
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green ?? 0).toBe(0);
    const endpoint = await bed.router.admin.getEndpoint('envoy-500');
    expect(endpoint.traffic).toEqual({ blue: 100 });
    expect(endpoint.mirrorTraffic).toEqual({});
  });

  it('rolls back from 10% live traffic, every Envoy applying the rollback before green is stopped: no failed client request', async () => {
    const key = await endpointWithBlue('envoy-slow');
    const load = startLoad(bed.router.router.dataUrl, 'envoy-slow', key);
    const policy = testPolicy({ steps: testPolicy().steps.filter((s) => s.kind !== 'mirror' && s.kind !== 'smoke') });
    const result = await rolloutResult(await bed.start('envoy-slow', modelServer('green', { LATENCY_MS: '305' }), policy));
    const report = await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^traffic 10%/);
    expect(result.lastGate?.checks.find((c) => c.metric === 'p95')?.phase).toBe('Failed');
    expect(report.byDeployment.green).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
  });
});
