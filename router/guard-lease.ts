// The guard lease of an endpoint: the controller that sends traffic to a new
// deployment holds it and keeps renewing it; if a renewal does not come in
// time, the routing core itself puts the fallback (blue) back to 100% and
// turns mirroring off (armed by guard-timers.ts). These are the pure rules of
// taking, renewing, releasing and firing it, applied to the registry's copy
// of the state, so a refused request changes nothing.
import { formatDuration, parseDuration } from '../policies/units.js';
import { SaferollError } from '../shared/errors.js';
import type { DeploymentRecord, EndpointRecord, GuardRecord } from './model.js';
import { checkTrafficRules } from './traffic-rules.js';

// Shorter, and ordinary scheduling hiccups of a live controller would fire it;
// longer, and it no longer guards anything worth the name.
export const MIN_GUARD_TTL_MS = 1_000;
export const MAX_GUARD_TTL_MS = 24 * 3_600_000;

/** `guard` in a PATCH body: take or renew (`{ttl, fallback}`), or release (`null`, or `{release: true}`, see applyGuardRequest). */
export interface GuardRequest {
  ttl: string;
  fallback: string;
}

/** The holder giving its lease up: refused if the lease already fired, so the holder learns of the lapse. */
export interface GuardRelease {
  release: true;
}

/** What GET shows. */
export type GuardView =
  { state: 'held'; fallback: string; ttl: string; expiresAt: string } | { state: 'fired'; fallback: string; firedAt: string; reason: string };

type DeploymentOf = (name: string) => DeploymentRecord | undefined;

/** Why `text` is not a usable lease TTL, or undefined when it is. */
export function guardTtlProblem(text: string): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (ms < MIN_GUARD_TTL_MS || ms > MAX_GUARD_TTL_MS)
    return `must be from ${formatDuration(MIN_GUARD_TTL_MS)} to ${formatDuration(MAX_GUARD_TTL_MS)}, got ${text}`;
  return undefined;
}

/**
 * Takes, renews or releases the lease on `endpoint`. A renewal sets the
 * expiry to ttl from now (absolute, so a retried renewal is harmless). A
 * lease that fired stays fired: renewing it is refused with
 * SAFEROLL_E_GUARD_FIRED, so the controller learns that it was given up
 * for lost. The holder's release (`{release: true}`) is refused the same
 * way, in the same change, so no lapse can slip in between a check and the
 * release and be erased; releasing no lease succeeds (a retried release).
 * Only `null` clears a fired lease: a rollback putting blue back, or an
 * operator.
 */
export function applyGuardRequest(endpoint: EndpointRecord, request: GuardRequest | GuardRelease | null, deploymentOf: DeploymentOf, nowMs: number): void {
  const current = endpoint.guard;
  if (request === null) {
    endpoint.guard = undefined;
    return;
  }
  if (current?.state === 'fired') {
    const what =
      'release' in request
        ? 'a release by its holder cannot hide that: clear it with {"guard": null}'
        : 'a renewal cannot undo that: release it ({"guard": null}) before taking a new one';
    throw new SaferollError(
      'SAFEROLL_E_GUARD_FIRED',
      `guard: the lease lapsed at ${current.expiredAt} and the routing core put "${current.fallback}" back to 100% at ${current.firedAt}; ${what}`,
      { field: 'guard' },
    );
  }
  if ('release' in request) {
    endpoint.guard = undefined;
    return;
  }
  const fallback = deploymentOf(request.fallback);
  if (!fallback) throw invalid('guard.fallback', `deployment "${request.fallback}" does not exist`);
  // As for traffic (traffic-rules.ts): a deployment that serves now, or the
  // fallback of a lease being renewed, may be scaled meanwhile; anything
  // else must be Succeeded to be one that takes all the traffic.
  const renewing = current?.state === 'held' && current.fallback === request.fallback;
  const serving = (endpoint.traffic.get(request.fallback) ?? 0) > 0;
  if (fallback.provisioningState === 'Deleting' || (!renewing && !serving && fallback.provisioningState !== 'Succeeded')) {
    throw invalid(
      'guard.fallback',
      `deployment "${request.fallback}" is ${fallback.provisioningState}; the fallback must be Succeeded (it takes 100% if the lease lapses)`,
    );
  }
  const ttlMs = parseDuration(request.ttl);
  endpoint.guard = { state: 'held', fallback: request.fallback, ttlMs, expiresAt: new Date(nowMs + ttlMs).toISOString() };
}

/** The fallback of a held lease cannot be deleted: it is where the traffic goes if the lease lapses. */
export function checkNotGuardFallback(endpoint: EndpointRecord, deployment: string): void {
  if (endpoint.guard?.state === 'held' && endpoint.guard.fallback === deployment) {
    throw new SaferollError(
      'SAFEROLL_E_CONFLICT',
      `deployment "${deployment}" is the fallback of the endpoint's guard lease; release the guard first ({"guard": null})`,
    );
  }
}

/**
 * Fires the lease that expired at `expiresAt`: the fallback 100%, mirror off,
 * under the ordinary traffic rules. Returns the reason, or undefined when the
 * lease was renewed or released in the meantime. Should the fallback be
 * unable to take traffic (say, scaled while green carried everything), the
 * mirror is still turned off and the reason says why the split was kept.
 */
export function fireLapsedGuard(endpoint: EndpointRecord, expiresAt: string, deploymentOf: DeploymentOf, nowMs: number): string | undefined {
  const guard = endpoint.guard;
  if (guard?.state !== 'held' || guard.expiresAt !== expiresAt) return undefined;
  const target = new Map([[guard.fallback, 100]]);
  let outcome: string;
  try {
    checkTrafficRules(target, new Map(), deploymentOf, endpoint);
    endpoint.traffic = target;
    outcome = `put "${guard.fallback}" back to 100% and turned mirroring off`;
  } catch (err) {
    outcome = `turned mirroring off but kept the split: "${guard.fallback}" cannot take traffic (${(err as Error).message})`;
  }
  endpoint.mirrorTraffic = new Map();
  const firedAt = new Date(nowMs).toISOString();
  const reason = `no renewal for ${formatDuration(guard.ttlMs)} (the lease expired at ${guard.expiresAt}): the routing core ${outcome}`;
  endpoint.guard = { state: 'fired', fallback: guard.fallback, ttlMs: guard.ttlMs, expiredAt: guard.expiresAt, firedAt, reason };
  endpoint.updatedAt = firedAt;
  return reason;
}

export function guardView(record: GuardRecord | undefined): GuardView | undefined {
  if (!record) return undefined;
  if (record.state === 'held') return { state: 'held', fallback: record.fallback, ttl: formatDuration(record.ttlMs), expiresAt: record.expiresAt };
  return { state: 'fired', fallback: record.fallback, firedAt: record.firedAt, reason: record.reason };
}

function invalid(field: string, message: string): SaferollError {
  return new SaferollError('SAFEROLL_E_VALIDATION', `${field}: ${message}`, { field });
}
