// Arms one timer per held guard lease, at its expiry. When one rings, the
// registry fires the lease through its ordinary change path (validated, saved
// durably, routes rebuilt); this file logs it and counts it in /metrics.
// Re-synced with the state after every change, so a renewal moves the timer
// and a release or an endpoint deletion clears it.
import { Counter } from 'prom-client';
import { SaferollError } from '../shared/errors.js';
import type { EndpointRecord } from './model.js';
import type { RouterMetrics } from './metrics.js';

/** Fires the lease of `endpoint` that expires at `expiresAt`; resolves to the reason, or undefined if it was renewed or released. */
export type FireGuard = (endpoint: string, expiresAt: string) => Promise<string | undefined>;

// setTimeout holds at most 2^31-1 ms; a longer wait re-arms when it rings.
const MAX_TIMER_MS = 2 ** 31 - 1;
// A firing that could not be saved (say, a full disk) is tried again this often.
const RETRY_MS = 1_000;

export class GuardTimers {
  private readonly armed = new Map<string, { expiresAt: string; timer: NodeJS.Timeout }>();
  private readonly firedTotal: Counter<'endpoint'>;
  private closed = false;

  constructor(
    metrics: RouterMetrics,
    private readonly fire: FireGuard,
  ) {
    this.firedTotal = new Counter({
      name: 'saferoll_guard_fired_total',
      help: 'Guard leases that lapsed (no renewal from the controller in time), after which the routing core put the fallback deployment back to 100%.',
      labelNames: ['endpoint'],
      registers: [metrics.registry],
    });
  }

  /** Fires every lease that expired while the router was down, before it serves a request. */
  async fireExpired(endpoints: Iterable<EndpointRecord>, nowMs = Date.now()): Promise<void> {
    const expired = [...endpoints].filter((e) => e.guard?.state === 'held' && !(Date.parse(e.guard.expiresAt) > nowMs));
    for (const endpoint of expired) {
      if (endpoint.guard?.state === 'held') await this.ring(endpoint.name, endpoint.guard.expiresAt);
    }
  }

  /** Arms, moves or clears timers to match the held leases of `endpoints`. */
  sync(endpoints: Iterable<EndpointRecord>): void {
    if (this.closed) return;
    const held = new Set<string>();
    for (const endpoint of endpoints) {
      const guard = endpoint.guard;
      if (guard?.state !== 'held') continue;
      held.add(endpoint.name);
      if (this.armed.get(endpoint.name)?.expiresAt === guard.expiresAt) continue;
      this.arm(endpoint.name, guard.expiresAt, Date.parse(guard.expiresAt) - Date.now());
    }
    for (const [name, entry] of this.armed) {
      if (held.has(name)) continue;
      clearTimeout(entry.timer);
      this.armed.delete(name);
    }
  }

  close(): void {
    this.closed = true;
    for (const entry of this.armed.values()) clearTimeout(entry.timer);
    this.armed.clear();
  }

  private arm(endpoint: string, expiresAt: string, delayMs: number): void {
    const previous = this.armed.get(endpoint);
    if (previous) clearTimeout(previous.timer);
    // An unreadable expiry (a hand-edited state file) fires at once: fail safe.
    const delay = Number.isFinite(delayMs) ? Math.min(Math.max(delayMs, 0), MAX_TIMER_MS) : 0;
    const timer = setTimeout(() => void this.ring(endpoint, expiresAt), delay);
    timer.unref();
    this.armed.set(endpoint, { expiresAt, timer });
  }

  private async ring(endpoint: string, expiresAt: string): Promise<void> {
    if (this.closed) return;
    const dueInMs = Date.parse(expiresAt) - Date.now();
    if (dueInMs > 0) {
      this.arm(endpoint, expiresAt, dueInMs);
      return;
    }
    try {
      const reason = await this.fire(endpoint, expiresAt);
      if (reason === undefined) return;
      this.firedTotal.inc({ endpoint });
      console.warn(`saferoll router: guard lease of endpoint "${endpoint}" lapsed: ${reason}`);
    } catch (err) {
      if (err instanceof SaferollError && err.code === 'SAFEROLL_E_STATE_WRITE') {
        // Fired all the same: the routes changed in memory; the state file
        // still holds the expired lease, which a restarted router fires again.
        this.firedTotal.inc({ endpoint });
        console.warn(
          `saferoll router: guard lease of endpoint "${endpoint}" lapsed: the fallback routes are in effect, but could not be saved (${err.message})`,
        );
        return;
      }
      console.error(
        `saferoll router: guard lease of endpoint "${endpoint}" lapsed but could not be fired (${(err as Error).message}); trying again in ${RETRY_MS} ms`,
      );
      // Unless a renewal or release moved on meanwhile (sync re-armed or cleared it).
      if (!this.closed && this.armed.get(endpoint)?.expiresAt === expiresAt) this.arm(endpoint, expiresAt, RETRY_MS);
    }
  }
}
