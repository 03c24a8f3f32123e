// The contracts the parts share, each declared once: resource names, the
// deployment spec, traffic and mirror maps, the deployment header, a
// rollout's phases, and how a rollout finds blue. Types and plain data only, no imports: the router, the
// activities, the workflow (deterministic, bundled), the CLI, bench and tests
// all import it. (The router's zod schemas are checked against these types
// in router/schemas.ts; what the workflow and the CLI agree on over Temporal,
// the task queue, workflow id, signals and search attributes, is in
// workflows/messages.ts and workflows/search-attributes.ts.)

/** An endpoint or deployment name. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{2,31}$/;
/** What a name that does not match NAME_PATTERN is told. */
export const NAME_RULE = `must match ${NAME_PATTERN.source} (3-32 lowercase letters, digits or dashes, starting with a letter)`;

/** A name in a ProcessSpec's env. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A command the router starts once per instance, on a free loopback port given as PORT. */
export interface ProcessSpec {
  command: string;
  args: string[];
  /** Added to the router's own environment (after envFiles). In the router, a null-prototype object. */
  env: Record<string, string>;
  /** Absolute paths of NAME=value files the router reads at each spawn: secrets by reference, only the paths are stored. */
  envFiles?: string[] | undefined;
  /** Polled with GET until it answers 2xx, e.g. "/healthz". */
  readinessPath: string;
}

/** URLs of instances that already run. */
export interface UpstreamsSource {
  upstreams: string[];
}

/** A command the router runs per instance. */
export interface ProcessSource {
  process: ProcessSpec;
}

/** Where a deployment's instances come from; its shape picks the provider (router/providers). */
export type DeploymentSource = UpstreamsSource | ProcessSource;

/** A deployment as a rollout creates it (green) and the CLI describes it. */
export interface DeploymentSpec {
  name: string;
  instanceCount: number;
  source: DeploymentSource;
  /** Where each instance serves Prometheus metrics, e.g. "/metrics": listed by the admin API's Prometheus service discovery. */
  metricsPath?: string | undefined;
}

/** deployment -> percent of an endpoint's live traffic; the percents sum to 0 or 100. */
export type TrafficMap = Record<string, number>;
/** deployment -> percent of requests copied to it: at most one entry, at most 50, never a deployment with live traffic. */
export type MirrorMap = Record<string, number>;

/** Sends a request to the named deployment only, never mirrored; the data plane sets it on every answer. */
export const DEPLOYMENT_HEADER = 'x-saferoll-deployment';
/** The name managed online endpoints use for DEPLOYMENT_HEADER, accepted as an alias. */
export const DEPLOYMENT_HEADER_ALIAS = 'azureml-model-deployment';

/** Where a rollout stands: its status, its RolloutPhase search attribute, its notifications. */
export type RolloutPhase =
  | 'Starting'
  | 'Creating'
  | 'Smoke'
  | 'Mirror'
  | 'Traffic'
  | 'Approval'
  | 'DeletingBlue'
  /** A gate failed with onFailure.action pause: traffic frozen, waiting for an operator. */
  | 'HeldOnFailure'
  | 'RollingBack'
  | 'Promoted'
  | 'RolledBack';

/** The deployment with all of the live traffic: the blue a rollout replaces when none is named. */
export function blueOf(traffic: TrafficMap): string | undefined {
  return Object.entries(traffic).find(([, percent]) => percent === 100)?.[0];
}

/** `GET .../logs?lines=`: how many of the latest output lines; `saferoll deployment logs --lines` checks the same bounds. */
export const LOG_LINES = { default: 100, max: 10_000 } as const;

/**
 * A deployment's `metricsPath` (what Prometheus scrapes on each instance):
 * printable ASCII from a leading `/`, no space, query or fragment.
 */
export const METRICS_PATH = {
  pattern: /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/,
  maxLength: 256,
  rule: 'must be a path starting with / (printable ASCII, no query, fragment or spaces, at most 256 characters), e.g. /metrics',
} as const;
