// Builders shared by the analysis suites: snapshots and windows made from
// plain observations, and a seeded PRNG so simulations replay exactly.
import { measureWindow, type WindowStats } from '../../analysis/window.js';
import type { MetricsSnapshot, TrafficKind, TrafficSeries } from '../../analysis/snapshot.js';

/** The router's histogram buckets (router/metrics.ts), in seconds. */
export const ROUTER_LE = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

export interface Observations {
  /** Latency of each request, in milliseconds. */
  latenciesMs: readonly number[];
  /** How many of them answered with a 5xx. */
  errors?: number;
}

/** A cumulative series as the router would export it after these requests. */
export function seriesOf(obs: Observations, le: readonly number[] = ROUTER_LE): TrafficSeries {
  const buckets = le.map((bound) => obs.latenciesMs.filter((ms) => ms <= bound * 1000).length);
  buckets.push(obs.latenciesMs.length);
  return { count: obs.latenciesMs.length, errors: obs.errors ?? 0, buckets };
}

export function snapshotOf(
  series: Record<string, Partial<Record<TrafficKind, TrafficSeries>>>,
  opts: { takenAtMs?: number; processStartSeconds?: number | null; le?: number[]; countsAborts?: boolean } = {},
): MetricsSnapshot {
  return {
    endpoint: 'ep',
    takenAtMs: opts.takenAtMs ?? 0,
    processStartSeconds: opts.processStartSeconds ?? 1_700_000_000,
    le: opts.le ?? ROUTER_LE,
    // Left out by default: the shape of snapshots from before hang-ups were read.
    ...(opts.countsAborts === true ? { countsAborts: true as const } : {}),
    deployments: series,
  };
}

/** A window of these answers plus `aborts` client hang-ups, as measured by a saferoll that counts them. */
export function windowWithAborts(obs: Observations, aborts: number): WindowStats {
  const series = { ...seriesOf(obs), aborts };
  return measureWindow(undefined, snapshotOf({ green: { live: series } }, { countsAborts: true }), 'green', 'live');
}

/** The window a gate would see for these requests. */
export function windowOf(obs: Observations): WindowStats {
  return measureWindow(undefined, snapshotOf({ green: { live: seriesOf(obs) } }), 'green', 'live');
}

/** n requests all taking `ms`. */
export function constant(n: number, ms: number): number[] {
  return Array.from({ length: n }, () => ms);
}

/** mulberry32: tiny, fast and good enough to drive test traffic deterministically. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A plausible healthy service: log-normal latency with a 100 ms median and a
 * p99 near 220 ms, the long right tail real services have.
 */
export function healthyLatencyMs(random: () => number): number {
  // Box–Muller from two uniforms; 1 - u avoids log(0).
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return 100 * Math.exp(0.34 * z);
}
