// Rollouts whose gates read Prometheus: a RolloutTestBed (real router,
// in-process worker, Temporal dev server) beside a real Prometheus that
// discovers the router's targets the way `saferoll dev --prometheus` sets it
// up, with model-server deployments that export /metrics (model_accuracy).
import type { GreenSpec } from '../../workflows/types.js';
import { waitSucceeded } from '../../router/deployment-wait.js';
import type { TestPrometheus } from './prometheus.js';
import { modelServer } from './rollout-fixture.js';
import type { TestRouter } from './router.js';
import { waitFor } from './wait-for.js';

/** A model server Prometheus scrapes: its /metrics listed by the router's HTTP SD. */
export function scrapedModelServer(name: string, env: Record<string, string> = {}): GreenSpec {
  return { ...modelServer(name, { LATENCY_MS: '5', ...env }), metricsPath: '/metrics' };
}

/**
 * Creates `endpoint` with a scraped blue at 100% and waits until Prometheus
 * holds blue's model_accuracy series, so a baseline rule has blue's data
 * from the rollout's first tick. Returns the endpoint's key.
 */
export async function createEndpointWithScrapedBlue(
  router: TestRouter,
  prometheus: TestPrometheus,
  endpoint: string,
  blueEnv: Record<string, string> = {},
): Promise<string> {
  await router.admin.putEndpoint(endpoint, { authMode: 'key' });
  const blue = scrapedModelServer('blue', blueEnv);
  if (!('process' in blue.source)) throw new Error('unreachable');
  await router.admin.putDeployment(endpoint, 'blue', { instanceCount: 1, process: blue.source.process, metricsPath: '/metrics' });
  await waitSucceeded(router.admin, endpoint, 'blue', { timeoutMs: 20_000 });
  await router.admin.setTraffic(endpoint, { blue: 100 });
  await waitForSeries(prometheus, `model_accuracy{endpoint="${endpoint}",deployment="blue"}`);
  return (await router.admin.getKeys(endpoint)).primaryKey;
}

/** Waits until `promql` returns at least one series; returns them. */
export async function waitForSeries(prometheus: TestPrometheus, promql: string, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const series = await prometheus.query(promql);
      return series.length > 0 ? series : undefined;
    },
    timeoutMs,
    `Prometheus has ${promql} (${prometheus.output().slice(-500)})`,
  );
}
