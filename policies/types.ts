// The validated rollout policy as plain JSON data. It travels inside a Temporal
// workflow's input, so it holds numbers and strings only (durations in ms,
// rates as fractions) and this file imports types only: workflow code can use
// it without pulling in zod or yaml.
import type { ShadowCompareSpec } from '../shared/shadow-compare.js';
import type { NotificationTarget } from './notification-types.js';

export interface Policy {
  name: string;
  description?: string;
  /**
   * Absolute limits for green; a window with fewer than `minRequests` samples is inconclusive.
   * `abortRate` absent (as in every policy from before it existed): DEFAULT_ABORT_RATE (policies/abort-limits.ts).
   */
  slo: { latency: { p95Ms?: number; p99Ms?: number }; errorRate?: number; abortRate?: number; minRequests: number };
  /** Green compared with blue over the same window. `abortRateDelta` absent: DEFAULT_ABORT_RATE_DELTA. */
  baseline: { latencyRatio?: number; errorRateDelta?: number; abortRateDelta?: number };
  analysis: {
    intervalMs: number;
    /**
     * The guard lease's TTL: with no renewal from the controller for this
     * long, the routing core puts blue back itself. 'off': no lease. Absent
     * (a policy built in code): the default (controller-loss.ts).
     */
    controllerLossTimeoutMs?: number | 'off';
    /** Custom checks judged at every gate tick beside the SLOs; absent when the policy has none. */
    metrics?: CustomMetric[];
    /** Provider errors in a row that fail a custom check (with metrics only; default 4). */
    consecutiveErrorLimit?: number;
    /** Where the built-in SLOs and baseline read from; absent: the router's own /metrics. */
    source?: MetricsSource;
  };
  steps: PolicyStep[];
  onFailure: OnFailure;
  /** Where events of the rollout are sent; absent when the policy has none. */
  notifications?: NotificationTarget[];
}

/** Gate counters read through Prometheus; no address: the worker's SAFEROLL_PROMETHEUS_URL. */
export interface MetricsSource {
  prometheus: { address?: string };
}

/** A custom check: one provider query per side, judged against limits and blue. */
export type CustomMetric = {
  name: string;
  /** Green's value must be >= min and <= max. */
  min?: number;
  max?: number;
  /** Green against blue over the same window: green/blue <= maxRatio, green - blue <= maxDelta, blue - green <= maxDrop. */
  baseline?: { maxRatio?: number; maxDelta?: number; maxDrop?: number };
} & ({ prometheus: { query: string; address?: string } } | { web: WebMetricSource });

export interface WebMetricSource {
  url: string;
  /** A JSON path such as `$.p95`. */
  path: string;
  method?: 'GET' | 'POST';
  /** Values may name the worker's environment: `${API_TOKEN}`. */
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * A mirror step's shadow comparison: what the router compares (`spec`, its
 * admin API's mirrorCompare) and the gate's limits on the pairs.
 */
export interface MirrorCompare {
  spec: ShadowCompareSpec;
  /** Highest acceptable share of compared pairs that mismatch (with json, bytes or status). */
  maxMismatch?: number;
  /** Highest acceptable PSI of green's scores against blue's (with spec.distribution). */
  maxPsi?: number;
  /** Compared pairs needed before the comparison can pass (and before a point estimate can fail it). */
  minPairs: number;
}

/** What a failed gate does. */
export interface OnFailure {
  /**
   * `rollback` (the default; also when absent, as in the input of rollouts
   * started before this field existed): blue 100% at once. `pause`: traffic
   * stays where it is and the rollout waits for an operator (rollback,
   * promote --force, abort) for at most `timeoutMs`, then rolls back.
   */
  action?: 'rollback' | 'pause';
  keepGreen: boolean;
  /** With `pause`: how long to wait for an operator before rolling back (default 1h). */
  timeoutMs?: number;
}

export type PolicyStep =
  | { kind: 'create' }
  | {
      kind: 'smoke';
      requests: number;
      path: string;
      method: string;
      body?: unknown;
      headers: Record<string, string>;
      expectStatus: number;
      timeoutMs: number;
    }
  | { kind: 'mirror'; percent: number; forMs: number; compare?: MirrorCompare }
  | { kind: 'traffic'; percent: number; forMs: number }
  | { kind: 'approval'; timeoutMs?: number }
  | { kind: 'deleteBlue'; afterMs: number };

export type PolicyStepKind = PolicyStep['kind'];
