// The rollout's guard lease, from the workflow's side. From the first route
// change that gives green traffic or a mirror until blue is deleted (or the
// rollback restores it), the routing core holds a lease that puts blue back
// on its own if this controller stops renewing it (router/guard-lease.ts).
// Route changes carry the lease, so a controller that comes back after it
// lapsed cannot push green any further; a small loop renews it every ttl/3
// whatever the plan is doing (baking, waiting for approval, paused, waiting
// to delete blue), so it never lapses while the controller is alive.
import { ActivityFailure, ApplicationFailure, CancellationScope, condition, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { GuardRequest, RolloutActivities } from '../activities/types.js';
import { controllerLossTimeoutMs } from '../policies/controller-loss.js';
import type { Policy } from '../policies/types.js';
import { formatDuration } from '../policies/units.js';
import type { RolloutTracker } from './rollout-tracker.js';

const GUARD_FIRED = 'SAFEROLL_E_GUARD_FIRED';

export class GuardLease {
  private readonly ttlMs: number | undefined;
  private keeper: Promise<void> | undefined;
  private stopping = false;
  /** Set once a renewal learned that the lease lapsed: the rollout's reason. */
  lost: string | undefined;

  constructor(
    private readonly endpoint: string,
    policy: Policy,
    private readonly tracker: RolloutTracker,
    /** Ends the plan: called once, when the renewal loop learns that the lease lapsed. */
    private readonly onLost: () => void,
    /** False in a run from before the lease existed (patches.ts): it replays without one, as it ran. */
    enabled: boolean,
    /** False in a run from before the one-call release (patches.ts): it replays its last renewal, as it ran. */
    private readonly releaseOnce = false,
  ) {
    this.ttlMs = enabled ? controllerLossTimeoutMs(policy.analysis) : undefined;
  }

  /** What a route change carries to take or renew the lease with it, atomically; undefined when the policy says off. */
  request(): GuardRequest | undefined {
    return this.ttlMs === undefined ? undefined : { ttl: formatDuration(this.ttlMs), fallback: this.tracker.status.blue };
  }

  /** What the rollback's "blue 100%" carries: the release (null), or nothing when off, leaving anyone else's lease alone. */
  releaseWithRoutes(): null | undefined {
    return this.ttlMs === undefined ? undefined : null;
  }

  /** Starts the renewal loop once a route change took the lease; a no-op when it runs or is off. */
  keep(): void {
    this.startRenewing(true);
  }

  /** Starts the renewal loop again in a run continued as new (the previous run held the lease). */
  resume(): void {
    this.startRenewing(false);
  }

  private startRenewing(announce: boolean): void {
    const ttlMs = this.ttlMs;
    if (ttlMs === undefined || this.keeper) return;
    this.stopping = false;
    if (announce)
      this.tracker.decide(
        'step',
        `guard lease held on the routing core: with no word from this controller for ${formatDuration(ttlMs)}, it puts "${this.tracker.status.blue}" back to 100% itself`,
      );
    // Outside the plan's scope: an abort must not cut a renewal off half-way (stop() ends the loop).
    this.keeper = CancellationScope.nonCancellable(() => this.renewUntilStopped(ttlMs));
  }

  /** Stops renewing, after a renewal in flight has landed, so none can land after a release. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.keeper;
    this.keeper = undefined;
  }

  /**
   * Before blue is deleted, and at the end of a plan that keeps blue: the
   * release, which the routing core refuses if the lease lapsed, so a lapse
   * is learned (the step fails with the controller-lost reason, as from a
   * renewal) rather than erased. Runs from before it did a last renewal and
   * then an unconditional release, which a lapse between the two could slip
   * through.
   */
  async release(): Promise<void> {
    const request = this.request();
    if (!this.keeper || !request) return;
    await this.stop();
    if (this.releaseOnce) {
      await proxyActivities<RolloutActivities>({ ...RELEASE_OPTIONS, summary: 'guard lease: release (refused if it lapsed)' }).releaseGuard(this.endpoint);
    } else {
      const acts = proxyActivities<RolloutActivities>({ ...RELEASE_OPTIONS, summary: 'guard lease: last renewal, then release' });
      await acts.renewGuard(this.endpoint, request);
      await acts.releaseGuard(this.endpoint);
    }
    this.tracker.decide('step', 'guard lease released');
  }

  private renewEveryMs(ttlMs: number): number {
    return Math.max(100, Math.floor(ttlMs / 3));
  }

  private async renewUntilStopped(ttlMs: number): Promise<void> {
    const everyMs = this.renewEveryMs(ttlMs);
    const acts = proxyActivities<RolloutActivities>({ ...renewOptions(everyMs), summary: `guard lease: renew (${formatDuration(ttlMs)} from now)` });
    for (;;) {
      if (await condition(() => this.stopping, everyMs)) return;
      const request = this.request();
      if (!request) return;
      try {
        await acts.renewGuard(this.endpoint, request);
      } catch (err) {
        const lost = controllerLostReason(err);
        if (lost !== undefined) {
          this.lost = lost;
          this.onLost();
          return;
        }
        // Anything else (say, the router briefly unreachable): the next round
        // tries again; if none gets through in time, the lease lapses and the
        // routing core puts blue back, which is what it is for.
      }
    }
  }
}

/** The controller-lost reason when `err` says the lease had lapsed, else undefined. */
export function controllerLostReason(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === GUARD_FIRED) return err.cause.message;
  return undefined;
}

// As a plan step's: should the router stay unreachable past the TTL, the
// lease lapses and the next attempt learns it.
const RELEASE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
};

// Short: a renewal takes milliseconds. Retried while it can still land before the lease lapses.
function renewOptions(everyMs: number): ActivityOptions {
  return {
    startToCloseTimeout: Math.max(1_000, everyMs),
    scheduleToCloseTimeout: Math.max(2_000, 3 * everyMs),
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: Math.max(1_000, everyMs) },
  };
}
