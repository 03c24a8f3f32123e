// Process deployments through the admin API: the router starts the model
// server, reports instances and health, scales, serves logs, reports a
// readiness failure with the reason and output, stops everything on delete,
// and takes secrets by reference (env files).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

  it('takes secrets by reference: env files are read at spawn, their paths stored and shown, their values never', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-envfile-'));
    const file = path.join(dir, 'model.env');
    await writeFile(file, 'MODEL_VERSION=v-secret-by-reference\n', { mode: 0o600 });
    await t.admin.putDeployment('models', 'byref', {
      instanceCount: 1,
      process: { command: 'node', args: [MODEL_SERVER], env: {}, envFiles: [file], readinessPath: '/healthz' },
    });
    const ready = await waitFor(async () => {
      const d = await t.admin.getDeployment('models', 'byref');
      return d.provisioningState === 'Succeeded' ? d : undefined;
    }, 20_000);
    expect(ready.source).toMatchObject({ process: { envFiles: [file] } });
    expect(JSON.stringify(ready)).not.toContain('v-secret-by-reference');
    const state = await readFile(path.join(t.stateDir, 'state.json'), 'utf8');
    expect(state).toContain(file);
    expect(state).not.toContain('v-secret-by-reference');

    await t.admin.setTraffic('models', { byref: 100 });
    const { primaryKey: key } = await t.admin.getKeys('models');
    expect(JSON.parse((await t.call('models', { key })).body).version).toBe('v-secret-by-reference');
    await t.admin.setTraffic('models', {});
    await t.admin.deleteDeployment('models', 'byref');
  });

  it('refuses env files that are relative, unreadable or not NAME=value lines: 400 naming the field, nothing created', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-envfile-'));
    const good = path.join(dir, 'good.env');
    const bad = path.join(dir, 'bad.env');
    await writeFile(good, 'A=1\n');
    await writeFile(bad, 'A=1\nthis line holds a s3cret\n');
    const cases: [string[], string, RegExp][] = [
      [['model.env'], 'process.envFiles.0', /must be an absolute path/],
      [[good, path.join(dir, 'missing.env')], 'process.envFiles.1', /cannot read env file .*missing\.env: ENOENT/],
      [[bad], 'process.envFiles.0', /bad\.env:2: expected NAME=value/],
    ];
    for (const [envFiles, field, message] of cases) {
      const err = await t.admin
        .putDeployment('models', 'refused', {
          instanceCount: 1,
          process: { command: 'node', args: [MODEL_SERVER], env: {}, envFiles, readinessPath: '/healthz' },
        })
        .then(
          () => undefined,
          (e: unknown) => e as { code?: string; field?: string; message: string },
        );
      // SAFEROLL_E_VALIDATION is the admin API's 400.
      expect(err).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field });
      expect(err?.message).toMatch(message);
      expect(err?.message).not.toContain('s3cret');
    }
    expect(await t.admin.findDeployment('models', 'refused')).toBeUndefined();
  });
});
