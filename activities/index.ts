// The rollout's side effects, as Temporal activities against the routing
// core's admin API and metrics. Each takes absolute targets ("blue 90,
// green 10"), never deltas, so a retry after a crash is harmless.
import { heartbeat, sleep } from '@temporalio/activity';
import { Agent, request } from 'undici';
import type { MetricSource } from '../analysis/metric-source.js';
import type { MetricsSnapshot, TrafficKind } from '../analysis/snapshot.js';
import { measureWindow } from '../analysis/window.js';
import type { MetricsSource as MetricsSourceSpec, PolicyStep } from '../policies/types.js';
import type { AdminClient } from '../router/client.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import type { WindowStats } from '../analysis/window.js';
import { DEPLOYMENT_HEADER, type DeploymentSpec, type MirrorMap, type TrafficMap } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import type { ShadowCompareSpec } from '../shared/shadow-compare.js';
import { classified } from './failures.js';
import { createCustomMetricActivities, type MetricProviders } from './custom-metrics.js';
import { prometheusSourceFromEnv } from './metric-sources.js';
import { createGuardActivities, explainingGuardFired, type GuardRequest } from './guard.js';
import { createShadowActivities } from './shadow.js';
import { createNotificationActivities, type NotificationDeps } from './notifications/index.js';

export interface ActivityDeps {
  admin: AdminClient;
  metrics: MetricSource;
  /** Data plane base URL, for smoke requests, e.g. http://127.0.0.1:8080 */
  dataUrl: string;
  /** How often to poll a deployment while it provisions. */
  pollIntervalMs?: number;
  /** Where notification secrets are read (default: the worker's environment). */
  notifications?: NotificationDeps;
  /** Custom checks' providers (default: prometheus and web, configured from the worker's environment). */
  metricProviders?: MetricProviders;
  /** The source of a policy's `analysis.source: { prometheus }` (default: metric-sources.ts, from the worker's environment). */
  prometheusSource?: (source: MetricsSourceSpec) => MetricSource;
}

export interface EndpointSummary {
  traffic: TrafficMap;
  mirrorTraffic: MirrorMap;
  deployments: { name: string; provisioningState: string }[];
}

/** A policy smoke step, aimed at one deployment of one endpoint. */
export type SmokeRequest = Omit<Extract<PolicyStep, { kind: 'smoke' }>, 'kind'> & { endpoint: string; deployment: string };

export interface RetryOptions {
  /** Retry the router's refusals too (rollback), instead of failing at once. */
  retryRefusals?: boolean;
}

export interface RouteOptions extends RetryOptions {
  /** Takes or renews the guard lease with the routes, atomically (`null` releases it). */
  guard?: GuardRequest | null | undefined;
  /** How the mirror's answers are compared with blue's, set with the routes (`null` turns it off; absent leaves it as it is). */
  compare?: ShadowCompareSpec | null | undefined;
}

export interface MeasureRequest {
  endpoint: string;
  green: string;
  blue: string;
  greenTraffic: Extract<TrafficKind, 'live' | 'mirror'>;
  stepStart: MetricsSnapshot;
  lastTick: MetricsSnapshot;
  /** The policy's analysis.source; absent: the router. */
  source?: MetricsSourceSpec | undefined;
}

/** The windows a gate tick judges (workflows/gate-decision.ts): the whole step so far and the latest interval, for green and (when it has traffic) blue. */
export interface TickWindows {
  greenStep: WindowStats;
  greenInterval: WindowStats;
  blueStep?: WindowStats | undefined;
  blueInterval?: WindowStats | undefined;
}

export function createActivities(deps: ActivityDeps) {
  const { admin } = deps;
  const prometheusSource = deps.prometheusSource ?? prometheusSourceFromEnv();
  const sourceFor = (source: MetricsSourceSpec | undefined): MetricSource => (source === undefined ? deps.metrics : prometheusSource(source));
  const pollMs = deps.pollIntervalMs ?? 250;
  const smokeAgent = new Agent({ keepAliveTimeout: 5_000 });

  return {
    ...createGuardActivities(admin),
    ...createNotificationActivities(deps.notifications),
    ...createCustomMetricActivities(deps.metricProviders),
    ...createShadowActivities(admin),

    async describeEndpoint(endpoint: string): Promise<EndpointSummary> {
      return classified(async () => {
        const [view, deployments] = await Promise.all([admin.getEndpoint(endpoint), admin.listDeployments(endpoint)]);
        return {
          traffic: view.traffic,
          mirrorTraffic: view.mirrorTraffic,
          deployments: deployments.map((d) => ({ name: d.name, provisioningState: d.provisioningState })),
        };
      });
    },

    /** Creates the deployment unless it exists with the same spec, then waits (heartbeating) until Succeeded. */
    async ensureDeployment(endpoint: string, spec: DeploymentSpec): Promise<{ instances: number }> {
      return classified(async () => {
        const fields = { instanceCount: spec.instanceCount, ...(spec.metricsPath === undefined ? {} : { metricsPath: spec.metricsPath }) };
        const body = 'upstreams' in spec.source ? { ...fields, upstreams: spec.source.upstreams } : { ...fields, process: spec.source.process };
        // PUT of the same spec is a no-op on the router, so a retry never creates a second green.
        await admin.putDeployment(endpoint, spec.name, body);
        const view = await waitSucceeded(admin, endpoint, spec.name, { pollMs, sleep, onView: (v) => heartbeat(v.provisioningState) });
        return { instances: view.instances.length };
      });
    },

    /**
     * Sets the endpoint's whole live split and mirror share. During a
     * rollback (`retryRefusals`) even a refusal is retried: rollback must end
     * in blue 100%, and a refusal such as "blue is Updating" passes. With a
     * guard request, a lease that already lapsed refuses the whole change.
     */
    async setRoutes(endpoint: string, traffic: TrafficMap, mirrorTraffic: MirrorMap, opts: RouteOptions = {}): Promise<void> {
      const body = { traffic, mirrorTraffic, ...(opts.compare === undefined ? {} : { mirrorCompare: opts.compare }) };
      const call = () =>
        opts.guard === undefined
          ? admin.patchEndpoint(endpoint, body)
          : explainingGuardFired(admin, endpoint, () => admin.patchEndpoint(endpoint, { ...body, guard: opts.guard }));
      await (opts.retryRefusals ? call() : classified(call));
    },

    /** Deletes a deployment; already gone counts as done. */
    async deleteDeployment(endpoint: string, name: string, opts: RetryOptions = {}): Promise<void> {
      const call = async (): Promise<void> => {
        try {
          await admin.deleteDeployment(endpoint, name);
        } catch (err) {
          if (err instanceof SaferollError && err.code === 'SAFEROLL_E_NOT_FOUND') return;
          throw err;
        }
      };
      await (opts.retryRefusals ? call() : classified(call));
    },

    /** Sends requests straight to one deployment (deployment header) and checks each status. */
    async smokeTest(smoke: SmokeRequest): Promise<{ passed: number }> {
      return classified(async () => {
        const { primaryKey } = await admin.getKeys(smoke.endpoint);
        const body = smoke.body === undefined ? undefined : typeof smoke.body === 'string' ? smoke.body : JSON.stringify(smoke.body);
        for (let i = 0; i < smoke.requests; i++) {
          const answer = await request(`${deps.dataUrl}/${smoke.endpoint}${smoke.path}`, {
            method: smoke.method as 'POST',
            dispatcher: smokeAgent,
            headers: {
              ...smoke.headers,
              authorization: `Bearer ${primaryKey}`,
              [DEPLOYMENT_HEADER]: smoke.deployment,
              ...(body !== undefined && typeof smoke.body !== 'string' ? { 'content-type': 'application/json' } : {}),
            },
            body,
            headersTimeout: smoke.timeoutMs,
            bodyTimeout: smoke.timeoutMs,
          }).catch((err: unknown) => {
            throw new SaferollError('SAFEROLL_E_UNREACHABLE', `smoke request ${i + 1} to the data plane at ${deps.dataUrl} failed: ${(err as Error).message}`);
          });
          const text = await answer.body.text();
          if (answer.statusCode !== smoke.expectStatus) {
            throw new SaferollError(
              'SAFEROLL_E_VALIDATION',
              `smoke request ${i + 1}/${smoke.requests} ${smoke.method} ${smoke.path} to "${smoke.deployment}" answered ${answer.statusCode}, expected ${smoke.expectStatus}: ${text.slice(0, 200)}`,
            );
          }
          heartbeat(i + 1);
        }
        return { passed: smoke.requests };
      });
    },

    /** The endpoint's counters now: the start of a gate window. */
    async snapshotMetrics(endpoint: string, source?: MetricsSourceSpec): Promise<MetricsSnapshot> {
      return classified(() => sourceFor(source).snapshot(endpoint));
    },

    /**
     * Green's and blue's numbers over the whole bake and over the latest
     * interval (histogram and counter deltas, histogram_quantile math), plus
     * the snapshot that starts the next interval.
     */
    async measureWindows(m: MeasureRequest): Promise<{ windows: TickWindows; snapshot: MetricsSnapshot }> {
      return classified(async () => {
        const now = await sourceFor(m.source).snapshot(m.endpoint);
        return {
          snapshot: now,
          windows: {
            greenStep: measureWindow(m.stepStart, now, m.green, m.greenTraffic),
            greenInterval: measureWindow(m.lastTick, now, m.green, m.greenTraffic),
            blueStep: measureWindow(m.stepStart, now, m.blue, 'live'),
            blueInterval: measureWindow(m.lastTick, now, m.blue, 'live'),
          },
        };
      });
    },
  };
}

export type RolloutActivities = ReturnType<typeof createActivities>;
