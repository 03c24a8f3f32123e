// The whole local stack on loopback: the Temporal dev server with its UI
// (persisted database), the routing core and a worker, each its own process,
// output prefixed by its name, each restarted on its own when it dies
// (child-supervisor.ts). Used by `saferoll dev` and `saferoll demo`.
import { spawn, type ChildProcess } from 'node:child_process';
import { devNull } from 'node:os';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { resolveAdminToken } from '../router/admin-token.js';
import { ROUTER_NODE_FLAGS } from '../router/node-flags.js';
import { SaferollError } from '../shared/errors.js';
import { resolveTemporalSettings, type TemporalSettings } from '../worker/temporal-config.js';
import { ChildSupervisor, type RunningChild } from './child-supervisor.js';
import { UsageError, intFlag } from './command.js';
import { ensureEnvoy } from './ensure-envoy.js';
import { PROMETHEUS_BIN, checkPrometheusInstalled, prometheusArgs, writePrometheusFiles } from './prometheus-config.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

/** The flags of every command that starts the stack (`dev`, `demo`). */
export const STACK_FLAGS = {
  port: { type: 'string' },
  'admin-port': { type: 'string' },
  'temporal-port': { type: 'string' },
  'ui-port': { type: 'string' },
  'state-dir': { type: 'string' },
  'data-plane': { type: 'string' },
  'xds-port': { type: 'string' },
} as const;

export const STACK_HELP = `  --port <n>            data plane port (default 8080)
  --admin-port <n>      admin API and /metrics port (default 8081)
  --temporal-port <n>   Temporal frontend port (default 7233)
  --ui-port <n>         Temporal web UI port (default 8233)
  --state-dir <dir>     router state, admin token, logs, Temporal database (default .saferoll)
  --data-plane builtin|envoy
                        who carries the traffic (default builtin; envoy: one Envoy fed by
                        the router, scripts/install-envoy.sh installs it; README "Data planes")
  --xds-port <n>        with --data-plane envoy: where the Envoy polls for config (default 8082)`;

type StackFlagValues = Partial<Record<keyof typeof STACK_FLAGS, string | boolean | undefined>>;

/**
 * Stack options from the flags, then the Temporal settings (environment and
 * profile, as the worker reads them): a configured address means a Temporal
 * server that is already there.
 */
export function stackOptions(values: StackFlagValues, log: (line: string) => void): DevStackOptions {
  const text = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    port: intFlag(text(values.port), 'port', 8080, 1),
    adminPort: intFlag(text(values['admin-port']), 'admin-port', 8081, 1),
    temporalPort: intFlag(text(values['temporal-port']), 'temporal-port', 7233, 1),
    uiPort: intFlag(text(values['ui-port']), 'ui-port', 8233, 1),
    stateDir: text(values['state-dir']) ?? '.saferoll',
    dataPlane: dataPlaneOf(text(values['data-plane']), text(values['xds-port'])),
    temporal: stackTemporal(process.env),
    log,
  };
}

function dataPlaneOf(kind: string | undefined, xdsPort: string | undefined): DevStackOptions['dataPlane'] {
  if (kind === undefined || kind === 'builtin') {
    if (xdsPort !== undefined) throw new UsageError('--xds-port goes with --data-plane envoy');
    return undefined;
  }
  if (kind !== 'envoy') throw new UsageError(`--data-plane must be builtin or envoy, got "${kind}"`);
  return { kind: 'envoy', xdsPort: intFlag(xdsPort, 'xds-port', 8082, 1) };
}

/** The variables that say which Temporal server, as opposed to how to log in to it. */
const LOCATION_VARIABLES = new Set(['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE']);

/** A configured Temporal with its credentials; else only the namespace: credentials meant for a remote cluster are not the local server's. */
function stackTemporal(env: NodeJS.ProcessEnv): TemporalSettings {
  const located = resolveTemporalSettings(
    {},
    Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('TEMPORAL_') || LOCATION_VARIABLES.has(name))),
  );
  return located.addressSource === undefined ? { temporalAddress: located.temporalAddress, namespace: located.namespace } : resolveTemporalSettings({}, env);
}

export interface DevStackOptions {
  port: number;
  adminPort: number;
  temporalPort: number;
  uiPort: number;
  stateDir: string;
  /** The Envoy data plane (`--data-plane envoy`) instead of the built-in one. */
  dataPlane?: { kind: 'envoy'; xdsPort: number } | undefined;
  /** Run a Prometheus too (`saferoll dev --prometheus`), discovering its targets from the router. */
  prometheus?: { port: number } | undefined;
  /** Temporal as configured: an address set anywhere (TEMPORAL_ADDRESS, a profile) is a server to use instead of starting one. */
  temporal: TemporalSettings;
  /** Where children's output goes, one prefixed line at a time. */
  log: (line: string) => void;
}

export interface DevStack {
  dataUrl: string;
  adminUrl: string;
  metricsUrl: string;
  temporalAddress: string;
  namespace: string;
  /** How clients reach the stack's Temporal. */
  temporal: TemporalSettings;
  uiUrl: string | undefined;
  /** With `prometheus`: its web UI and HTTP API. */
  prometheusUrl: string | undefined;
  adminToken: string;
  /** `{ dev, temporal, router, worker, prometheus }` pids, rewritten at each (re)start, removed at stop. */
  pidFile: string;
  stop(): Promise<void>;
}

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const PID_FILE = 'dev-pids.json';

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const stateDir = path.resolve(options.stateDir);
  const wanted: [string, number][] = [
    ['--port (data plane)', options.port],
    ['--admin-port (admin API)', options.adminPort],
  ];
  const remote = options.temporal.addressSource !== undefined;
  if (!remote) wanted.push(['--temporal-port', options.temporalPort], ['--ui-port', options.uiPort]);
  if (options.prometheus) {
    await checkPrometheusInstalled();
    wanted.push(['--prometheus-port', options.prometheus.port]);
  }
  for (const [flag, port] of wanted) await assertPortFree(port, flag);

  const token = await resolveAdminToken(stateDir, process.env.SAFEROLL_ADMIN_TOKEN);
  if (token.generated) options.log(`[dev] generated an admin token (kept in ${token.file}): export SAFEROLL_ADMIN_TOKEN=${token.token}`);

  const pids = new PidFile(path.join(stateDir, PID_FILE));
  // Worker first (it drives the router), then the router (drains), then Temporal.
  const parts: ChildSupervisor[] = [];
  const stop = async (): Promise<void> => {
    for (const part of [...parts].reverse()) await part.stop();
    await pids.remove();
  };
  const supervise = async (key: string, name: string, start: (signal: AbortSignal) => Promise<RunningChild>): Promise<void> => {
    const part = await ChildSupervisor.start({ name, start, log: options.log, onPid: (pid) => pids.set(key, pid) });
    options.log(`[dev] ${name} is up (pid ${part.pid})`);
    parts.push(part);
  };

  try {
    const { namespace } = options.temporal;
    let temporal = options.temporal;
    let uiUrl: string | undefined;
    if (!remote) {
      const dbFile = path.join(stateDir, 'temporal.db');
      options.log(`[dev] starting the Temporal dev server (database ${dbFile})...`);
      temporal = { temporalAddress: `127.0.0.1:${options.temporalPort}`, namespace };
      uiUrl = `http://127.0.0.1:${options.uiPort}`;
      // Same port and database at every restart: clients reconnect, and the rollouts are all still there.
      await supervise('temporal', 'the Temporal dev server', (signal) =>
        startTemporalDevServer({
          port: options.temporalPort,
          uiPort: options.uiPort,
          dbFile,
          namespace,
          onLog: (line) => options.log(`[temporal] ${line}`),
          detached: true,
          signal,
        }),
      );
    }
    const adminUrl = `http://127.0.0.1:${options.adminPort}`;
    const dataUrl = `http://127.0.0.1:${options.port}`;
    const prometheusUrl = options.prometheus ? `http://127.0.0.1:${options.prometheus.port}` : undefined;
    const workerEnv = {
      // A remote Temporal's settings (variables, profile) go to the worker as they are; for the
      // local dev server none do: credentials or a profile's TLS would fail against it.
      ...(remote ? process.env : { ...withoutTemporalSettings(process.env), TEMPORAL_CONFIG_FILE: devNull }),
      SAFEROLL_ADMIN_TOKEN: token.token,
      TEMPORAL_ADDRESS: temporal.temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      SAFEROLL_ROUTER_URL: adminUrl,
      SAFEROLL_DATA_URL: dataUrl,
      // Where a policy's prometheus checks read by default.
      ...(prometheusUrl ? { SAFEROLL_PROMETHEUS_URL: prometheusUrl } : {}),
    };
    const launch = (name: string, args: string[], env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): ChildProcess => {
      // Own process group: Ctrl-C reaches only `saferoll dev`, which stops the parts in order.
      const child = spawn(process.execPath, [...nodeFlags, CLI_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      prefixLines(child, name, options.log);
      return child;
    };
    const routerArgs = ['router', '--port', String(options.port), '--admin-port', String(options.adminPort), '--state-dir', stateDir];
    // A fixed xDS port: a router the stack restarts takes its Envoy back.
    if (options.dataPlane) await ensureEnvoy();
    if (options.dataPlane) routerArgs.push('--data-plane', 'envoy', '--xds-port', String(options.dataPlane.xdsPort));
    await supervise('router', 'the router', (signal) =>
      startChild(launch('router', routerArgs, routerEnv(process.env, options.dataPlane !== undefined), ROUTER_NODE_FLAGS), signal, (child) =>
        waitForHttp(`${adminUrl}/healthz`, 30_000, 'the router', child),
      ),
    );
    if (options.prometheus && prometheusUrl) {
      const { port } = options.prometheus;
      // Config, token file and database in the state dir: the series survive a restart of the stack.
      const files = await writePrometheusFiles(path.join(stateDir, 'prometheus'), adminUrl, token.token);
      options.log(`[dev] starting Prometheus (data in ${files.storageDir})...`);
      await supervise('prometheus', 'Prometheus', (signal) => {
        const child = spawn(PROMETHEUS_BIN, [...prometheusArgs(files, port), '--log.level=warn'], {
          // It reads the admin token from its 0600 file, nothing from the environment.
          env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_') && !name.startsWith('SAFEROLL_'))),
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        prefixLines(child, 'prometheus', options.log);
        return startChild(child, signal, (c) => waitForHttp(`${prometheusUrl}/-/ready`, 60_000, 'Prometheus', c));
      });
    }
    await supervise('worker', 'the worker', (signal) =>
      startChild(launch('worker', ['worker'], workerEnv), signal, (child) => waitForOutput(child, /polling task queue/, 120_000, 'the worker')),
    );
    return {
      dataUrl,
      adminUrl,
      metricsUrl: `${adminUrl}/metrics`,
      temporalAddress: temporal.temporalAddress,
      namespace,
      temporal,
      uiUrl,
      prometheusUrl,
      adminToken: token.token,
      pidFile: pids.file,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The router's environment: no Temporal credentials and no SAFEROLL_ settings
 * but its admin token, and that only when it came from the environment (else
 * the router reads it from the state dir). Process deployments inherit what
 * the router has, and can read its /proc/<pid>/environ.
 */
export function routerEnv(env: NodeJS.ProcessEnv, envoy = false): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TEMPORAL_') && !name.startsWith('SAFEROLL_')) kept[name] = value;
  }
  if (env.SAFEROLL_ADMIN_TOKEN) kept.SAFEROLL_ADMIN_TOKEN = env.SAFEROLL_ADMIN_TOKEN;
  // An Envoy binary of the user's own, for `--data-plane envoy` only.
  if (envoy && env.SAFEROLL_ENVOY_BIN) kept.SAFEROLL_ENVOY_BIN = env.SAFEROLL_ENVOY_BIN;
  return kept;
}

function withoutTemporalSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('TEMPORAL_')));
}

/** A spawned CLI child, once `ready` says it is up; stopped when that fails or the stack stops meanwhile. */
async function startChild(child: ChildProcess, signal: AbortSignal, ready: (child: ChildProcess) => Promise<void>): Promise<RunningChild> {
  const stop = (): Promise<void> => stopChild(child);
  const onAbort = (): void => void stop();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal.aborted) throw new SaferollError('SAFEROLL_E_INTERNAL', 'the stack is stopping');
    await ready(child);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return { child, stop };
}

/** The pids of the stack's parts, for scripts (and tests) that need them: rewritten whole, one write at a time. */
class PidFile {
  private readonly pids: Record<string, number> = { dev: process.pid };
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  set(key: string, pid: number | undefined): void {
    if (pid === undefined) delete this.pids[key];
    else this.pids[key] = pid;
    const text = `${JSON.stringify(this.pids)}\n`;
    this.writing = this.writing.then(async () => {
      await writeFile(`${this.file}.tmp`, text);
      await rename(`${this.file}.tmp`, this.file);
    });
    this.writing.catch(() => undefined);
  }

  async remove(): Promise<void> {
    await this.writing.catch(() => undefined);
    await rm(this.file, { force: true });
  }
}

function assertPortFree(port: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new SaferollError(
          'SAFEROLL_E_VALIDATION',
          `port ${port} (${flag}) is already in use${err.code === 'EADDRINUSE' ? '' : `: ${err.message}`}; stop what uses it or pick another with ${flag.split(' ')[0]}`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

function prefixLines(child: ChildProcess, name: string, log: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) log(`[${name}] ${line}`);
    });
  }
}

async function waitForHttp(url: string, timeoutMs: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new SaferollError('SAFEROLL_E_INTERNAL', `${what} exited while starting; see its output above`);
    try {
      const answer = await request(url, { headersTimeout: 2_000 });
      await answer.body.dump();
      if (answer.statusCode === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new SaferollError('SAFEROLL_E_TIMEOUT', `${what} did not answer on ${url} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new SaferollError('SAFEROLL_E_TIMEOUT', `${what} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      if (!pattern.test(chunk.toString())) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new SaferollError('SAFEROLL_E_INTERNAL', `${what} exited while starting; see its output above`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
