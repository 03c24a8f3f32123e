// Starts the Temporal dev server (the CLI binary the project builds into
// .tools/bin) on loopback, with saferoll's search attributes registered, and
// waits until it answers. Used by `saferoll dev` and by the test run.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SaferollError } from '../shared/errors.js';
import { freePort } from '../shared/free-port.js';
import { projectRoot } from '../shared/project-root.js';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

const execFileAsync = promisify(execFile);

export function temporalBinary(): string {
  const candidates = [path.join(projectRoot(), '.tools/bin/temporal'), path.resolve(process.cwd(), '.tools/bin/temporal')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new SaferollError(
      'SAFEROLL_E_UNREACHABLE',
      `the Temporal CLI is not installed (looked in ${candidates.join(', ')}); run scripts/install-temporal.sh`,
    );
  }
  return found;
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** Persist workflows here so they survive a restart; in memory when unset. */
  dbFile?: string;
  headless?: boolean;
  /** In its own process group, so a terminal's Ctrl-C does not stop it before its clients. */
  detached?: boolean;
  namespace?: string;
  /** Where the server's own log goes; ignored when undefined. */
  onLog?: (line: string) => void;
  /** Stops the server when aborted, also while it is starting. */
  signal?: AbortSignal;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = temporalBinary();
  const port = options.port ?? (await freePort());
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort()));
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace, '--log-level', 'error'];
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const attribute of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${attribute.name}=${attribute.type}`);

  const child = spawn(binary, args, { env: localEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  let output = '';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString();
    output = (output + text).slice(-8_000);
    if (options.onLog) for (const line of text.split('\n')) if (line.trim()) options.onLog(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = `127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const onAbort = (): void => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  child.once('exit', () => options.signal?.removeEventListener('abort', onAbort));
  if (options.signal?.aborted) await stop();

  try {
    await waitUntilHealthy(binary, address, () => (child.exitCode !== null ? output : undefined));
    // Search attributes given on the command line are only registered when
    // the namespace is created; a persisted database from an earlier run
    // needs them registered explicitly (idempotent).
    if (options.dbFile) await registerSearchAttributes(binary, address, namespace);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`, namespace, child, stop };
}

export async function registerSearchAttributes(binary: string, address: string, namespace: string): Promise<void> {
  const args = ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace];
  for (const attribute of SEARCH_ATTRIBUTES) args.push('--name', attribute.name, '--type', attribute.type);
  try {
    await execFileAsync(binary, args, { env: localEnv(), timeout: 30_000 });
  } catch (err) {
    const text = `${(err as { stderr?: string }).stderr ?? ''}${(err as Error).message}`;
    if (!/already exists|already registered/i.test(text)) throw err;
  }
}

/**
 * The environment for the `temporal` commands run here, without TEMPORAL_*
 * (an API key or TLS settings for a remote cluster would make the CLI dial the
 * local server with TLS) and without saferoll's own secrets.
 */
function localEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TEMPORAL_') && !name.startsWith('SAFEROLL_')) env[name] = value;
  }
  return env;
}

async function waitUntilHealthy(binary: string, address: string, exitedWith: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const died = exitedWith();
    if (died !== undefined) throw new SaferollError('SAFEROLL_E_UNREACHABLE', `the Temporal dev server exited at start:\n${died.trim()}`);
    try {
      await execFileAsync(binary, ['operator', 'cluster', 'health', '--address', address], { env: localEnv(), timeout: 5_000 });
      return;
    } catch {
      if (Date.now() > deadline) throw new SaferollError('SAFEROLL_E_TIMEOUT', `the Temporal dev server on ${address} did not become healthy within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
