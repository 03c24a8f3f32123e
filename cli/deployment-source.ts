// The flags that say where a deployment's instances come from, shared by
// `saferoll start` (green) and `saferoll deployment create`: upstream URLs
// that already run, or a command the router starts once per instance.
import path from 'node:path';
import { ENV_NAME_PATTERN, METRICS_PATH, NAME_PATTERN, NAME_RULE, type DeploymentSource } from '../shared/contracts.js';
import { UsageError, intFlag } from './command.js';
import { splitShellWords } from './shell-words.js';

export const SOURCE_FLAGS = {
  upstream: { type: 'string', multiple: true },
  command: { type: 'string' },
  env: { type: 'string', multiple: true },
  'env-from-file': { type: 'string', multiple: true },
  'readiness-path': { type: 'string' },
  'instance-count': { type: 'string' },
  'metrics-path': { type: 'string' },
} as const;

export const SOURCE_HELP = `  --upstream <url>        an instance that already runs (repeat for more; http(s) origin, no path)
  --command "<cmd args>"  or: a command the router starts per instance (quotes as in a shell;
                          it gets PORT and runs in the router's working directory)
  --env K=V               environment of --command (repeatable); stored in the router's state,
                          shown by GET and (with start) kept in Temporal history: no secrets here
  --env-from-file <path>  NAME=value lines the router reads at each start of an instance
                          (repeatable; only the path is stored and shown): for secrets
  --readiness-path <p>    path that answers 2xx once an instance is ready (default /healthz)
  --instance-count <n>    instances, 1-64 (default 1; with --upstream, the number of URLs)
  --metrics-path <p>      where each instance serves Prometheus metrics, e.g. /metrics: listed by
                          the admin API's Prometheus service discovery (GET /v1/prometheus/targets)`;

export interface SourceFlags {
  upstream?: string[] | undefined;
  command?: string | undefined;
  env?: string[] | undefined;
  'env-from-file'?: string[] | undefined;
  'readiness-path'?: string | undefined;
  'instance-count'?: string | undefined;
  'metrics-path'?: string | undefined;
}

/** Fails with a usage error unless `name` is a valid endpoint or deployment name. */
export function checkName(name: string | undefined, what: string): string {
  if (name === undefined || name === '') throw new UsageError(`${what} is required`);
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(`${what} "${name}" ${NAME_RULE}`);
  }
  return name;
}

/** Where a deployment's instances come from, how many, and where they serve metrics (when they do). */
export interface ParsedSource {
  instanceCount: number;
  source: DeploymentSource;
  metricsPath?: string;
}

export function parseSource(flags: SourceFlags): ParsedSource {
  const parsed = parseInstances(flags);
  const path = flags['metrics-path'];
  if (path === undefined) return parsed;
  if (path.length > METRICS_PATH.maxLength || !METRICS_PATH.pattern.test(path))
    throw new UsageError(`--metrics-path ${METRICS_PATH.rule}, got ${JSON.stringify(path)}`);
  return { ...parsed, metricsPath: path };
}

function parseInstances(flags: SourceFlags): { instanceCount: number; source: DeploymentSource } {
  const upstreams = flags.upstream ?? [];
  if (upstreams.length > 0 && flags.command !== undefined) throw new UsageError('give either --upstream or --command, not both');
  if (upstreams.length === 0 && flags.command === undefined) throw new UsageError('give the instances: --upstream <url>... or --command "<cmd>"');

  if (upstreams.length > 0) {
    if (flags.env !== undefined || flags['env-from-file'] !== undefined || flags['readiness-path'] !== undefined) {
      throw new UsageError('--env, --env-from-file and --readiness-path go with --command, not --upstream');
    }
    for (const url of upstreams) checkOrigin(url);
    const instanceCount = intFlag(flags['instance-count'], 'instance-count', upstreams.length, 1, 64);
    return { instanceCount, source: { upstreams } };
  }

  const [command, ...args] = splitShellWords(flags.command ?? '');
  if (command === undefined) throw new UsageError('--command is empty');
  const readinessPath = flags['readiness-path'] ?? '/healthz';
  if (!readinessPath.startsWith('/')) throw new UsageError(`--readiness-path must start with /, got "${readinessPath}"`);
  // Absolute, as the router reads them (from its own working directory).
  const envFiles = flags['env-from-file']?.map((file) => path.resolve(file));
  return {
    instanceCount: intFlag(flags['instance-count'], 'instance-count', 1, 1, 64),
    source: { process: { command, args, env: parseEnv(flags.env ?? []), ...(envFiles ? { envFiles } : {}), readinessPath } },
  };
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !ENV_NAME_PATTERN.test(name)) throw new UsageError(`--env must be NAME=value with NAME an identifier, got "${pair}"`);
    env[name] = pair.slice(eq + 1);
  }
  return env;
}

function checkOrigin(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '') {
    throw new UsageError(`--upstream must be an http(s) origin such as http://127.0.0.1:9001 (no path or query), got "${value}"`);
  }
}

/** `NAME=VALUE` pairs for --tag style flags. */
export function parsePairs(pairs: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} must be key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
