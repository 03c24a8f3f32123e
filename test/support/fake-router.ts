// Stand-in activities for fast workflow tests: typed by createActivities' own
// return type (so a changed activity signature breaks these tests at compile
// time), answering as a router would, with green's health, failures and
// blocked calls under each test's control, and every call recorded. One
// FakeFleet serves a worker; each test gets a FakeRouter for its own
// endpoint, so a rollout a failed test left behind cannot disturb the next.
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CustomMetricsRequest, CustomReading, RolloutActivities, ShadowPairsReading, ShadowPairsRequest } from '../../activities/types.js';
import type { MetricsSnapshot } from '../../analysis/snapshot.js';
import type { WindowStats } from '../../analysis/window.js';

/** What green's answers look like in the next gate readings. */
export type GreenHealth = 'healthy' | 'failing' | 'failing-and-slow' | 'quiet';

type ActivityName = keyof RolloutActivities;

export interface Call {
  name: ActivityName;
  args: unknown[];
  runId: string;
  /** Green's health when the call was made (for readings). */
  green: GreenHealth;
}

const WINDOWS: Record<GreenHealth, WindowStats> = {
  healthy: stats(100, 0, 5),
  failing: stats(100, 50, 5),
  'failing-and-slow': stats(100, 50, 900),
  quiet: stats(0, 0, 5),
};

function stats(requests: number, errors: number, p95Ms: number): WindowStats {
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : null,
    p95Ms: requests ? p95Ms : null,
    p99Ms: requests ? p95Ms : null,
    buckets: [],
    overflow: 0,
    seconds: 1,
  };
}

export class FakeRouter {
  readonly calls: Call[] = [];
  green: GreenHealth = 'healthy';
  /** What custom checks' providers answer (readCustomMetrics): none by default. */
  customReadings: (req: CustomMetricsRequest) => CustomReading[] = () => [];
  /** What the routing core's shadow comparison counted so far (readShadowPairs): nothing by default. */
  shadowPairs: (req: ShadowPairsRequest) => ShadowPairsReading = () => ({
    snapshot: { takenAtMs: 0, processStartSeconds: 1, series: { match: 0, mismatch: 0, shed: 0, error: 0 } },
  });
  private readonly failures = new Map<ActivityName, (args: unknown[]) => string | undefined>();
  private readonly blocked = new Map<ActivityName, { when: (args: unknown[]) => boolean; released: Promise<void>; release: () => void }>();
  private readonly deferred = new Map<ActivityName, (taskToken: Uint8Array) => void>();

  constructor(readonly endpoint: string) {}

  /** `name` fails, non-retryably, with the message `when` returns (undefined: it succeeds). */
  fail(name: ActivityName, when: (args: unknown[]) => string | undefined): void {
    this.failures.set(name, when);
  }

  /** Calls of `name` matching `when` wait until the returned function is called. */
  block(name: ActivityName, when: (args: unknown[]) => boolean = () => true): () => void {
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.blocked.set(name, { when, released, release });
    return () => {
      this.blocked.delete(name);
      release();
    };
  }

  /**
   * The next call of `name` is left open on the server (completed later with
   * the client's `activity.complete(taskToken, ...)`, say while no worker
   * runs): resolves to its task token.
   */
  completeLater(name: ActivityName): Promise<Uint8Array> {
    return new Promise((resolve) => this.deferred.set(name, resolve));
  }

  named(name: ActivityName): Call[] {
    return this.calls.filter((c) => c.name === name);
  }

  /** The live split and mirror of every setRoutes call, in order. */
  routes(): unknown[][] {
    return this.named('setRoutes').map((c) => c.args.slice(1, 3));
  }

  async handle(name: ActivityName, args: unknown[]): Promise<void> {
    this.calls.push({ name, args, runId: Context.current().info.workflowExecution?.runId ?? '', green: this.green });
    const block = this.blocked.get(name);
    if (block?.when(args)) await block.released;
    const defer = this.deferred.get(name);
    if (defer) {
      this.deferred.delete(name);
      defer(Context.current().info.taskToken);
      throw new CompleteAsyncError();
    }
    const message = this.failures.get(name)?.(args);
    if (message !== undefined) throw ApplicationFailure.nonRetryable(message, 'SAFEROLL_E_CONFLICT');
  }

  windows() {
    const green = WINDOWS[this.green];
    const blue = WINDOWS.healthy;
    return { greenStep: green, greenInterval: green, blueStep: blue, blueInterval: blue };
  }
}

/** One set of activities for a worker, sending each call to the FakeRouter of its endpoint. */
export class FakeFleet {
  private readonly routers = new Map<string, FakeRouter>();

  router(endpoint: string): FakeRouter {
    const router = new FakeRouter(endpoint);
    this.routers.set(endpoint, router);
    return router;
  }

  private of(endpoint: string): FakeRouter {
    const router = this.routers.get(endpoint);
    if (!router) throw ApplicationFailure.nonRetryable(`no fake router for endpoint ${endpoint}`);
    return router;
  }

  activities(): RolloutActivities {
    return {
      describeEndpoint: async (...args) => {
        await this.of(args[0]).handle('describeEndpoint', args);
        return { traffic: { blue: 100 }, mirrorTraffic: {}, deployments: [{ name: 'blue', provisioningState: 'Succeeded' }] };
      },
      ensureDeployment: async (...args) => {
        await this.of(args[0]).handle('ensureDeployment', args);
        return { instances: args[1].instanceCount };
      },
      setRoutes: async (...args) => this.of(args[0]).handle('setRoutes', args),
      deleteDeployment: async (...args) => this.of(args[0]).handle('deleteDeployment', args),
      smokeTest: async (...args) => {
        await this.of(args[0].endpoint).handle('smokeTest', args);
        return { passed: args[0].requests };
      },
      snapshotMetrics: async (...args) => {
        await this.of(args[0]).handle('snapshotMetrics', args);
        return snapshot(args[0]);
      },
      measureWindows: async (...args) => {
        const router = this.of(args[0].endpoint);
        await router.handle('measureWindows', args);
        return measuredWindows(router);
      },
      readCustomMetrics: async (...args) => {
        const router = this.of(args[0].endpoint);
        await router.handle('readCustomMetrics', args);
        return router.customReadings(args[0]);
      },
      readShadowPairs: async (...args) => {
        const router = this.of(args[0].endpoint);
        await router.handle('readShadowPairs', args);
        return router.shadowPairs(args[0]);
      },
      renewGuard: async (...args) => this.of(args[0]).handle('renewGuard', args),
      releaseGuard: async (...args) => this.of(args[0]).handle('releaseGuard', args),
      // Notifications are not this double's business (test/workflows/notifier.test.ts covers them).
      notifyWebhook: async () => undefined,
      notifySlack: async () => undefined,
    };
  }
}

function snapshot(endpoint: string): MetricsSnapshot {
  return { endpoint, takenAtMs: 0, processStartSeconds: 1, le: [], deployments: {} };
}

/** What measureWindows answers for `router` now (also what a test completes a deferred reading with). */
export function measuredWindows(router: FakeRouter): Awaited<ReturnType<RolloutActivities['measureWindows']>> {
  return { snapshot: snapshot(router.endpoint), windows: router.windows() };
}
