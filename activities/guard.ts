// The guard lease activities: renew or release the routing core's lease on
// an endpoint (router/guard-lease.ts). A lease that already lapsed comes back,
// from a renewal and from a release alike, as a non-retryable
// SAFEROLL_E_GUARD_FIRED failure whose message says when and what the
// routing core did: it becomes the rollout's reason.
import { ApplicationFailure } from '@temporalio/common';
import type { AdminClient } from '../router/client.js';
import { isSaferollError } from '../shared/errors.js';
import { classified } from './failures.js';

export const GUARD_FIRED = 'SAFEROLL_E_GUARD_FIRED';

/** `{ttl, fallback}`: hold the lease for ttl from now, with this deployment to fall back to. */
export interface GuardRequest {
  ttl: string;
  fallback: string;
}

export function createGuardActivities(admin: AdminClient) {
  return {
    /** Renews the lease (or takes it, if none is held): it now expires ttl from now. */
    async renewGuard(endpoint: string, guard: GuardRequest): Promise<void> {
      await classified(() => explainingGuardFired(admin, endpoint, () => admin.patchEndpoint(endpoint, { guard })));
    },

    /**
     * Releases the lease in one change that is refused if it already fired
     * (the rollout must learn of the lapse, not erase it); releasing none is
     * a no-op, so a retry after a release that landed succeeds.
     */
    async releaseGuard(endpoint: string): Promise<void> {
      await classified(() => explainingGuardFired(admin, endpoint, () => admin.patchEndpoint(endpoint, { guard: { release: true } })));
    },
  };
}

/** Runs an admin call that carries a guard request, turning "the lease fired" into the controller-lost failure. */
export async function explainingGuardFired<T>(admin: AdminClient, endpoint: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isSaferollError(err) || err.code !== GUARD_FIRED) throw err;
    throw ApplicationFailure.nonRetryable(await controllerLost(admin, endpoint, err.message), GUARD_FIRED);
  }
}

async function controllerLost(admin: AdminClient, endpoint: string, routerMessage: string): Promise<string> {
  const guard = await admin.getEndpoint(endpoint).then(
    (view) => view.guard,
    () => undefined,
  );
  if (guard?.state !== 'fired') return `controller lost: ${routerMessage}`;
  return `controller lost: the routing core's guard lease lapsed at ${guard.firedAt} and put "${guard.fallback}" back to 100% (mirror off)`;
}
