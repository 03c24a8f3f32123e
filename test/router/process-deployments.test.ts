// Process deployments through the admin API: the router starts the model
// server, reports instances and health, scales, serves logs, reports a
// readiness failure with the reason and output, and stops everything on delete.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/cli.js';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { waitFor } from '../support/wait-for.js';

const MODEL_SERVER = path.join(PROJECT_ROOT, 'examples/model-server.mjs');
let t: TestRouter;

beforeAll(async () => {
  t = await startTestRouter({ readinessTimeoutMs: 3_000 });
  await t.admin.putEndpoint('models', { authMode: 'key' });
});
afterAll(() => t.close());

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('process deployments', () => {
  it('starts, scales, serves logs and stops a process deployment', async () => {
    const created = await t.admin.putDeployment('models', 'blue', {
      instanceCount: 2,
      process: { command: 'node', args: [MODEL_SERVER], env: { MODEL_VERSION: 'v7' }, readinessPath: '/healthz' },
    });
    expect(created.provisioningState).toBe('Creating');
    const ready = await waitFor(async () => {
      const d = await t.admin.getDeployment('models', 'blue');
      return d.provisioningState === 'Succeeded' ? d : undefined;
    }, 20_000);
    expect(ready.instances).toHaveLength(2);
    expect(ready.instances.every((i) => i.healthy)).toBe(true);

    await t.admin.setTraffic('models', { blue: 100 });
    const { primaryKey: key } = await t.admin.getKeys('models');
    const r = await t.call('models', { key, path: '/score' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).version).toBe('v7');

    await t.admin.scaleDeployment('models', 'blue', 3);
    const scaled = await waitFor(async () => {
      const d = await t.admin.getDeployment('models', 'blue');
      return d.provisioningState === 'Succeeded' && d.instances.length === 3 ? d : undefined;
    }, 20_000);
    expect(scaled.instances.filter((i) => i.healthy)).toHaveLength(3);

    const logs = await t.admin.deploymentLogs('models', 'blue', 50);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).toMatch(/\[2\] /);

    const pids = scaled.instances.map((i) => i.pid as number);
    await t.admin.setTraffic('models', {});
    await t.admin.deleteDeployment('models', 'blue');
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('marks a deployment Failed with the reason and its last output when it never becomes ready', async () => {
    await t.admin.putDeployment('models', 'slow', {
      instanceCount: 1,
      process: { command: 'node', args: [MODEL_SERVER], env: { READY_DELAY_MS: '60000' }, readinessPath: '/healthz' },
    });
    const failed = await waitFor(async () => {
      const d = await t.admin.getDeployment('models', 'slow');
      return d.provisioningState === 'Failed' ? d : undefined;
    }, 20_000);
    expect(failed.reason).toMatch(/ready/i);
    expect(failed.reason).toMatch(/listening|model-server/i);
    await t.admin.deleteDeployment('models', 'slow');
  });
});
