// The whole local stack on loopback: the Temporal dev server with its UI
// (persisted database), the routing core and a worker, each its own process,
// output prefixed by its name. Used by `saferoll dev` and `saferoll demo`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { resolveAdminToken } from '../router/admin-token.js';
import { SaferollError } from '../shared/errors.js';
import { intFlag } from './command.js';
import { startTemporalDevServer, type DevServer } from './temporal-dev-server.js';

/** The flags of every command that starts the stack (`dev`, `demo`). */
export const STACK_FLAGS = {
  port: { type: 'string' },
  'admin-port': { type: 'string' },
  'temporal-port': { type: 'string' },
  'ui-port': { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

export const STACK_HELP = `  --port <n>            data plane port (default 8080)
  --admin-port <n>      admin API and /metrics port (default 8081)
  --temporal-port <n>   Temporal frontend port (default 7233)
  --ui-port <n>         Temporal web UI port (default 8233)
  --state-dir <dir>     router state, admin token, logs, Temporal database (default .saferoll)`;

type StackFlagValues = Partial<Record<keyof typeof STACK_FLAGS, string | boolean | undefined>>;

/** Stack options from the flags, then the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE). */
export function stackOptions(values: StackFlagValues, log: (line: string) => void): DevStackOptions {
  const text = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    port: intFlag(text(values.port), 'port', 8080, 1),
    adminPort: intFlag(text(values['admin-port']), 'admin-port', 8081, 1),
    temporalPort: intFlag(text(values['temporal-port']), 'temporal-port', 7233, 1),
    uiPort: intFlag(text(values['ui-port']), 'ui-port', 8233, 1),
    stateDir: text(values['state-dir']) ?? '.saferoll',
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    namespace: process.env.TEMPORAL_NAMESPACE || undefined,
    log,
  };
}

export interface DevStackOptions {
  port: number;
  adminPort: number;
  temporalPort: number;
  uiPort: number;
  stateDir: string;
  /** Use this Temporal server instead of starting one (TEMPORAL_ADDRESS). */
  temporalAddress?: string | undefined;
  namespace?: string | undefined;
  /** Where children's output goes, one prefixed line at a time. */
  log: (line: string) => void;
}

export interface DevStack {
  dataUrl: string;
  adminUrl: string;
  metricsUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string | undefined;
  adminToken: string;
  /** Rejects when a part of the stack dies on its own. */
  died: Promise<never>;
  stop(): Promise<void>;
}

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const stateDir = path.resolve(options.stateDir);
  const wanted: [string, number][] = [
    ['--port (data plane)', options.port],
    ['--admin-port (admin API)', options.adminPort],
  ];
  if (!options.temporalAddress) wanted.push(['--temporal-port', options.temporalPort], ['--ui-port', options.uiPort]);
  for (const [flag, port] of wanted) await assertPortFree(port, flag);

  const token = await resolveAdminToken(stateDir, process.env.SAFEROLL_ADMIN_TOKEN);
  if (token.generated) options.log(`[dev] generated an admin token (kept in ${token.file}): export SAFEROLL_ADMIN_TOKEN=${token.token}`);

  const children: ChildProcess[] = [];
  let temporal: DevServer | undefined;
  let stopping = false;
  let reportDeath!: (err: Error) => void;
  const died = new Promise<never>((_, reject) => (reportDeath = reject));
  died.catch(() => undefined);

  const stop = async (): Promise<void> => {
    stopping = true;
    // Worker first (it drives the router), then the router (drains), then Temporal.
    for (const child of [...children].reverse()) await stopChild(child);
    await temporal?.stop();
  };

  try {
    let temporalAddress = options.temporalAddress;
    let uiUrl: string | undefined;
    if (!temporalAddress) {
      options.log(`[dev] starting the Temporal dev server (database ${path.join(stateDir, 'temporal.db')})...`);
      temporal = await startTemporalDevServer({
        port: options.temporalPort,
        uiPort: options.uiPort,
        dbFile: path.join(stateDir, 'temporal.db'),
        namespace: options.namespace ?? 'default',
        onLog: (line) => options.log(`[temporal] ${line}`),
        detached: true,
      });
      temporalAddress = temporal.address;
      uiUrl = temporal.uiUrl;
      temporal.child.once('exit', (code) => {
        if (!stopping) reportDeath(new SaferollError('SAFEROLL_E_UNREACHABLE', `the Temporal dev server exited (code ${code})`));
      });
    }
    const adminUrl = `http://127.0.0.1:${options.adminPort}`;
    const dataUrl = `http://127.0.0.1:${options.port}`;
    const env = {
      ...process.env,
      SAFEROLL_ADMIN_TOKEN: token.token,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
      SAFEROLL_ROUTER_URL: adminUrl,
      SAFEROLL_DATA_URL: dataUrl,
    };
    const launch = (name: string, args: string[]): ChildProcess => {
      // Own process group: Ctrl-C reaches only `saferoll dev`, which stops the parts in order.
      const child = spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      prefixLines(child, name, options.log);
      child.once('exit', (code, signal) => {
        if (!stopping) reportDeath(new SaferollError('SAFEROLL_E_INTERNAL', `the ${name} exited (${signal ?? `code ${code}`}); see its output above`));
      });
      children.push(child);
      return child;
    };
    launch('router', ['router', '--port', String(options.port), '--admin-port', String(options.adminPort), '--state-dir', stateDir]);
    await waitForHttp(`${adminUrl}/healthz`, 30_000, 'the router');
    const worker = launch('worker', ['worker']);
    await waitForOutput(worker, /polling task queue/, 120_000, 'the worker');
    return {
      dataUrl,
      adminUrl,
      metricsUrl: `${adminUrl}/metrics`,
      temporalAddress,
      namespace: env.TEMPORAL_NAMESPACE,
      uiUrl,
      adminToken: token.token,
      died,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function assertPortFree(port: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new SaferollError('SAFEROLL_E_VALIDATION', `port ${port} (${flag}) is already in use${err.code === 'EADDRINUSE' ? '' : `: ${err.message}`}; stop what uses it or pick another with ${flag.split(' ')[0]}`)),
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

async function waitForHttp(url: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
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
