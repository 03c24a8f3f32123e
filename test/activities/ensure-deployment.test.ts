// ensureDeployment against a real router: a green spec's metricsPath (from
// `saferoll start --metrics-path`) reaches the deployment it creates, so
// Prometheus discovery lists green's instances.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { RouterMetricSource } from '../../analysis/router-metric-source.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';

let t: TestRouter;
let upstream: TestUpstream;

beforeAll(async () => {
  t = await startTestRouter();
  upstream = await startUpstream('green');
  await t.admin.putEndpoint('shop', { authMode: 'key' });
});

afterAll(async () => {
  await t.close();
  await upstream.close();
});

it('creates green with its metricsPath, and without one when the spec has none', async () => {
  const activities = createActivities({
    admin: t.admin,
    metrics: new RouterMetricSource(t.router.adminUrl, TEST_ADMIN_TOKEN),
    dataUrl: t.router.dataUrl,
    pollIntervalMs: 20,
  });
  const env = new MockActivityEnvironment();
  await env.run(activities.ensureDeployment, 'shop', { name: 'green', instanceCount: 1, source: { upstreams: [upstream.url] }, metricsPath: '/metrics' });
  expect((await t.admin.getDeployment('shop', 'green')).metricsPath).toBe('/metrics');
  const groups = await t.admin.prometheusTargets();
  expect(groups.find((g) => g.labels.deployment === 'green')?.labels.__metrics_path__).toBe('/metrics');

  await env.run(activities.ensureDeployment, 'shop', { name: 'plain', instanceCount: 1, source: { upstreams: [upstream.url] } });
  expect((await t.admin.getDeployment('shop', 'plain')).metricsPath).toBeUndefined();
});
