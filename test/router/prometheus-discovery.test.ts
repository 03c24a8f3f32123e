// A real Prometheus discovering its targets from a real router: the router's
// own /metrics (scraped with the admin token) and each model-server instance
// of a deployment with a metricsPath, labelled endpoint and deployment,
// scraped and up; gone from Prometheus once the deployment is deleted.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { MODEL_SERVER } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let prometheus: TestPrometheus;

beforeAll(async () => {
  t = await startTestRouter();
  prometheus = await startPrometheus(t.router.adminUrl, TEST_ADMIN_TOKEN);
});

afterAll(async () => {
  await prometheus?.close();
  await t?.close();
});

it('scrapes the router and each instance with its endpoint and deployment labels, and drops them when the deployment goes', async () => {
  await t.admin.putEndpoint('shop', { authMode: 'key' });
  await t.admin.putDeployment('shop', 'green', {
    instanceCount: 2,
    process: { command: process.execPath, args: [MODEL_SERVER], env: { MODEL_ACCURACY: '0.81' }, readinessPath: '/healthz' },
    metricsPath: '/metrics',
  });
  await waitFor(async () => (await t.admin.getDeployment('shop', 'green')).provisioningState === 'Succeeded', 30_000, 'green Succeeded');
  const instanceUrls = (await t.admin.getDeployment('shop', 'green')).instances.map((i) => `${i.url}/metrics`).sort();

  const instances = await waitFor(
    async () => {
      const targets = (await prometheus.activeTargets()).filter((target) => target.scrapePool === 'saferoll-instances');
      return targets.length === 2 && targets.every((target) => target.health === 'up') ? targets : undefined;
    },
    30_000,
    `both instances up in Prometheus (${prometheus.output().slice(-500)})`,
  );
  expect(instances.map((target) => target.scrapeUrl).sort()).toEqual(instanceUrls);
  for (const target of instances) {
    expect(target.labels).toMatchObject({ endpoint: 'shop', deployment: 'green', job: 'saferoll-instances' });
    expect(target.labels).not.toHaveProperty('saferoll_role');
  }
  const router = await waitFor(async () =>
    (await prometheus.activeTargets()).find((target) => target.scrapePool === 'saferoll-router' && target.health === 'up'),
  );
  expect(router.scrapeUrl).toBe(`${t.router.adminUrl}/metrics`);

  // What a gate's query reads: up == 1 and the gauge, per instance, labelled by discovery.
  const up = await waitFor(async () => {
    const series = await prometheus.query('up{job="saferoll-instances",endpoint="shop",deployment="green"} == 1');
    return series.length === 2 ? series : undefined;
  });
  expect(up.map((s) => s.value)).toEqual([1, 1]);
  const accuracy = await waitFor(async () => {
    const series = await prometheus.query('model_accuracy{endpoint="shop",deployment="green"}');
    return series.length === 2 ? series : undefined;
  });
  expect(accuracy.map((s) => s.value)).toEqual([0.81, 0.81]);

  await t.admin.deleteDeployment('shop', 'green');
  await waitFor(
    async () => (await prometheus.activeTargets()).every((target) => target.scrapePool !== 'saferoll-instances'),
    30_000,
    'instance targets gone from Prometheus',
  );
  expect((await prometheus.activeTargets()).map((target) => target.scrapePool)).toEqual(['saferoll-router']);
});
