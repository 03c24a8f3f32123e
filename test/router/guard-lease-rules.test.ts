// The guard lease's rules on their own, for the cases the admin API cannot
// easily reach: a fallback being scaled, a lease renewed just before its timer
// rang, and a lapse whose fallback cannot take the traffic.
import { describe, expect, it } from 'vitest';
import { applyGuardRequest, fireLapsedGuard } from '../../router/guard-lease.js';
import type { DeploymentRecord, EndpointRecord, ProvisioningState } from '../../router/model.js';
import { SaferollError } from '../../shared/errors.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');

function endpoint(traffic: Record<string, number>, mirrorTraffic: Record<string, number> = {}): EndpointRecord {
  return {
    name: 'e',
    authMode: 'key',
    tags: new Map(),
    keys: { primary: 'p', secondary: 's' },
    traffic: new Map(Object.entries(traffic)),
    mirrorTraffic: new Map(Object.entries(mirrorTraffic)),
    createdAt: '',
    updatedAt: '',
  };
}

function deployments(states: Record<string, ProvisioningState>): (name: string) => DeploymentRecord | undefined {
  return (name) => {
    const state = states[name];
    return state === undefined
      ? undefined
      : {
          endpoint: 'e',
          name,
          instanceCount: 1,
          source: { upstreams: ['http://127.0.0.1:1'] },
          provisioningState: state,
          instances: [],
          createdAt: '',
          updatedAt: '',
        };
  };
}

function refusal(fn: () => void): SaferollError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SaferollError);
    return err as SaferollError;
  }
  throw new Error('accepted');
}

describe('taking and renewing', () => {
  it('a new lease needs a Succeeded fallback, or one that serves live traffic now; a renewal keeps working while it is scaled', () => {
    const updating = deployments({ blue: 'Updating', green: 'Succeeded' });
    expect(refusal(() => applyGuardRequest(endpoint({ green: 100 }), { ttl: '60s', fallback: 'blue' }, updating, NOW)).field).toBe('guard.fallback');

    const serving = endpoint({ blue: 90, green: 10 });
    applyGuardRequest(serving, { ttl: '60s', fallback: 'blue' }, updating, NOW);
    expect(serving.guard).toEqual({ state: 'held', fallback: 'blue', ttlMs: 60_000, expiresAt: '2026-01-01T00:01:00.000Z' });

    const held = endpoint({ green: 100 });
    applyGuardRequest(held, { ttl: '60s', fallback: 'blue' }, deployments({ blue: 'Succeeded' }), NOW);
    applyGuardRequest(held, { ttl: '60s', fallback: 'blue' }, updating, NOW + 1_000);
    expect(held.guard).toMatchObject({ state: 'held', expiresAt: '2026-01-01T00:01:01.000Z' });
    expect(refusal(() => applyGuardRequest(held, { ttl: '60s', fallback: 'blue' }, deployments({ blue: 'Deleting' }), NOW)).field).toBe('guard.fallback');
  });
});

describe('releasing', () => {
  const ready = deployments({ blue: 'Succeeded', green: 'Succeeded' });

  it("the holder's release clears a held lease, and succeeds again when retried (none left)", () => {
    const e = endpoint({ blue: 90, green: 10 });
    applyGuardRequest(e, { ttl: '60s', fallback: 'blue' }, ready, NOW);
    applyGuardRequest(e, { release: true }, ready, NOW + 1_000);
    expect(e.guard).toBeUndefined();
    applyGuardRequest(e, { release: true }, ready, NOW + 2_000);
    expect(e.guard).toBeUndefined();
  });

  it("the holder's release of a lease that fired is refused and leaves the evidence; null clears it", () => {
    const e = endpoint({ blue: 90, green: 10 });
    applyGuardRequest(e, { ttl: '1s', fallback: 'blue' }, ready, NOW);
    fireLapsedGuard(e, '2026-01-01T00:00:01.000Z', ready, NOW + 1_500);
    const fired = structuredClone(e.guard);
    const err = refusal(() => applyGuardRequest(e, { release: true }, ready, NOW + 2_000));
    expect(err).toMatchObject({ code: 'SAFEROLL_E_GUARD_FIRED', field: 'guard' });
    expect(err.message).toMatch(/lapsed at 2026-01-01T00:00:01\.000Z .* put "blue" back to 100% .*a release by its holder cannot hide that/);
    expect(e.guard).toEqual(fired);
    applyGuardRequest(e, null, ready, NOW + 3_000);
    expect(e.guard).toBeUndefined();
  });
});

describe('firing', () => {
  it('does nothing when the lease was renewed or released before its timer rang', () => {
    const e = endpoint({ blue: 90, green: 10 });
    applyGuardRequest(e, { ttl: '1s', fallback: 'blue' }, deployments({ blue: 'Succeeded', green: 'Succeeded' }), NOW);
    expect(fireLapsedGuard(e, '2025-12-31T23:59:59.000Z', deployments({ blue: 'Succeeded' }), NOW + 5_000)).toBeUndefined();
    expect(Object.fromEntries(e.traffic)).toEqual({ blue: 90, green: 10 });
    e.guard = undefined;
    expect(fireLapsedGuard(e, '2026-01-01T00:00:01.000Z', deployments({ blue: 'Succeeded' }), NOW + 5_000)).toBeUndefined();
  });

  it('turns the mirror off and keeps the split, saying why, when the fallback cannot take traffic', () => {
    const e = endpoint({ green: 100 }, { spare: 10 });
    applyGuardRequest(e, { ttl: '1s', fallback: 'blue' }, deployments({ blue: 'Succeeded' }), NOW);
    const reason = fireLapsedGuard(e, '2026-01-01T00:00:01.000Z', deployments({ blue: 'Updating', green: 'Succeeded', spare: 'Succeeded' }), NOW + 1_500);
    expect(reason).toMatch(/turned mirroring off but kept the split: "blue" cannot take traffic \(traffic\.blue: deployment "blue" is Updating/);
    expect(Object.fromEntries(e.traffic)).toEqual({ green: 100 });
    expect(e.mirrorTraffic.size).toBe(0);
    expect(e.guard).toMatchObject({ state: 'fired', expiredAt: '2026-01-01T00:00:01.000Z', firedAt: '2026-01-01T00:00:01.500Z' });
  });
});
