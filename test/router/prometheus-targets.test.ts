// Prometheus HTTP service discovery on the admin API: the router and every
// instance of a deployment with a metricsPath, labelled endpoint and
// deployment, following scale and delete; behind the admin token; a bad
// metricsPath refused with a 400 naming the field, changing nothing.
import { rm } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetGroup } from '../../router/prometheus-targets.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
const upstreams: TestUpstream[] = [];

beforeAll(async () => {
  t = await startTestRouter();
  for (const name of ['a', 'b']) upstreams.push(await startUpstream(name));
  await t.admin.putEndpoint('shop', { authMode: 'key' });
  await t.admin.putDeployment('shop', 'plain', { instanceCount: 1, upstreams: [upstreams[0]!.url] });
});

afterAll(async () => {
  await t.close();
  await rm(t.stateDir, { recursive: true, force: true });
  for (const upstream of upstreams) await upstream.close();
});

const host = (url: string): string => new URL(url).host;
const instanceGroups = (groups: TargetGroup[]) => groups.filter((g) => g.labels.saferoll_role === 'instance');

async function put(path: string, body: unknown, token = TEST_ADMIN_TOKEN) {
  const answer = await request(`${t.router.adminUrl}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: answer.statusCode, json: (await answer.body.json()) as { error?: { field?: string; message: string } } };
}

describe('GET /v1/prometheus/targets', () => {
  it('lists the router itself (its admin address, /metrics) and no instance of a deployment without metricsPath', async () => {
    const answer = await request(`${t.router.adminUrl}/v1/prometheus/targets`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const groups = (await answer.body.json()) as TargetGroup[];
    expect(groups).toEqual([{ targets: [host(t.router.adminUrl)], labels: { saferoll_role: 'router', __metrics_path__: '/metrics' } }]);
  });

  it('refuses a request without the admin token (401)', async () => {
    const none = await request(`${t.router.adminUrl}/v1/prometheus/targets`);
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    await none.body.dump();
    const wrong = await request(`${t.router.adminUrl}/v1/prometheus/targets`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
  });

  it('lists each instance with endpoint, deployment and metrics path, and follows scale and delete', async () => {
    const created = await t.admin.putDeployment('shop', 'scored', { instanceCount: 2, upstreams: upstreams.map((u) => u.url), metricsPath: '/metrics' });
    expect(created.metricsPath).toBe('/metrics');
    const expected = (ids: number[]) =>
      ids.map((id) => ({
        targets: [host(upstreams[id]!.url)],
        labels: {
          saferoll_role: 'instance',
          endpoint: 'shop',
          deployment: 'scored',
          saferoll_instance: String(id),
          __metrics_path__: '/metrics',
          __scheme__: 'http',
        },
      }));
    await waitFor(async () => JSON.stringify(instanceGroups(await t.admin.prometheusTargets())) === JSON.stringify(expected([0, 1])), 10_000, 'two targets');

    await t.admin.scaleDeployment('shop', 'scored', 1);
    await waitFor(async () => JSON.stringify(instanceGroups(await t.admin.prometheusTargets())) === JSON.stringify(expected([0])), 10_000, 'one target');
    await t.admin.scaleDeployment('shop', 'scored', 2);
    await waitFor(async () => JSON.stringify(instanceGroups(await t.admin.prometheusTargets())) === JSON.stringify(expected([0, 1])), 10_000, 'two again');

    await t.admin.deleteDeployment('shop', 'scored');
    expect(instanceGroups(await t.admin.prometheusTargets())).toEqual([]);
  });

  it('refuses a bad metricsPath with a 400 naming the field, creating nothing', async () => {
    for (const metricsPath of ['metrics', '/metrics?x=1', '/with space', '', 7, '/esc\u001b[0m', '/nul\u0000', `/${'m'.repeat(256)}`]) {
      const refused = await put('/v1/endpoints/shop/deployments/bad-metrics', { instanceCount: 1, upstreams: [upstreams[0]!.url], metricsPath });
      expect(refused.status, JSON.stringify(metricsPath)).toBe(400);
      expect(refused.json.error?.field).toBe('metricsPath');
    }
    expect((await t.admin.listDeployments('shop')).map((d) => d.name)).toEqual(['plain']);
  });

  it('treats a changed metricsPath as a different spec (409), and the same PUT again as a no-op', async () => {
    const body = { instanceCount: 1, upstreams: [upstreams[1]!.url], metricsPath: '/metrics' };
    expect((await put('/v1/endpoints/shop/deployments/again', body)).status).toBe(201);
    expect((await put('/v1/endpoints/shop/deployments/again', body)).status).toBe(200);
    expect((await put('/v1/endpoints/shop/deployments/again', { ...body, metricsPath: '/stats' })).status).toBe(409);
    expect((await put('/v1/endpoints/shop/deployments/again', { instanceCount: 1, upstreams: [upstreams[1]!.url] })).status).toBe(409);
    await waitFor(async () => (await t.admin.getDeployment('shop', 'again')).provisioningState === 'Succeeded');
    await t.admin.deleteDeployment('shop', 'again');
  });
});

describe('metricsPath in the state file', () => {
  it('survives a router restart', async () => {
    const stateDir = t.stateDir;
    await t.admin.putDeployment('shop', 'kept', { instanceCount: 1, upstreams: [upstreams[0]!.url], metricsPath: '/stats/prom' });
    await waitFor(async () => (await t.admin.getDeployment('shop', 'kept')).provisioningState === 'Succeeded');
    await t.admin.close();
    await t.router.close();
    t = await startTestRouter({ stateDir });
    expect((await t.admin.getDeployment('shop', 'kept')).metricsPath).toBe('/stats/prom');
    await waitFor(async () => instanceGroups(await t.admin.prometheusTargets()).some((g) => g.labels.__metrics_path__ === '/stats/prom'));
  });
});
