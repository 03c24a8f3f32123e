// Everything a bench starts is registered here and stopped at the end, whether
// the bench ends well, throws, or is interrupted (Ctrl-C, SIGTERM, SIGHUP): child
// processes (each in its own process group, so what it forks goes too) and
// in-process resources (servers, clients, agents), last started first stopped.
// Any exit path that skips the cleanups still SIGKILLs the children's groups.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { log, setBenchName } from './log.js';

export interface TrackedChild {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Settles with the exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The last 16 KB the child printed (stdout and stderr). */
  output(): string;
  /** SIGTERM to the child's process group, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve once the output matches (the match is returned); otherwise at once. */
  ready?: RegExp;
  readyTimeoutMs?: number;
  /** fork() a Node module with an IPC channel instead of spawn(). */
  ipc?: boolean;
  /** Extra node flags for ipc children (e.g. --cpu-prof). */
  execArgv?: string[];
  graceMs?: number;
  /** The bench fails at once if this child exits before stop() is called. */
  critical?: boolean;
}

type Cleanup = { name: string; run: () => Promise<void> };
const cleanups: Cleanup[] = [];

// Process groups of children still running. On process exit nothing can be
// awaited any more, so whatever is left is killed outright.
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
});

// A bench fails at once, instead of waiting on timeouts, when something it
// relies on dies under it (the router, the worker, the dev server).
let fatal: (err: Error) => void = () => undefined;
const fatalError = new Promise<never>((_, reject) => {
  fatal = reject;
});
fatalError.catch(() => undefined);

/** Fails the running bench (runBench) with `err`. */
export function failBench(err: Error): void {
  fatal(err);
}

/** Registers an undo; cleanupAll() runs them newest first. Returns an unregister function. */
export function onCleanup(name: string, run: () => Promise<void>): () => void {
  const entry = { name, run };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const entry = cleanups.pop();
    if (!entry) break;
    try {
      await withDeadline(entry.run(), 20_000, `cleanup ${entry.name}`);
    } catch (err) {
      log(`cleanup of ${entry.name} failed: ${(err as Error).message}`);
    }
  }
}

export async function startChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<{ child: TrackedChild; match: RegExpMatchArray | undefined }> {
  const proc: ChildProcess = options.ipc
    ? fork(command, args, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        detached: true,
        execArgv: options.execArgv ?? [],
      })
    : spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    proc.once('spawn', () => resolve(undefined));
    proc.once('error', (err) => resolve(err));
  });
  if (spawnError || proc.pid === undefined) throw new Error(`${name}: cannot start ${command}: ${spawnError?.message ?? 'no pid'}`);
  const pid = proc.pid;
  liveGroups.add(pid);
  let text = '';
  const collect = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-16_384);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  const exitCode = (): number | null => proc.exitCode ?? (proc.signalCode ? 128 + constants.signals[proc.signalCode] : null);
  const exited = new Promise<number | null>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(exitCode());
    else proc.once('exit', () => resolve(exitCode()));
  });
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;

  let stopping: Promise<void> | undefined;
  const child: TrackedChild = {
    name,
    pid,
    proc,
    exited,
    output: () => text,
    stop(graceMs = options.graceMs ?? 10_000) {
      stopping ??= (async () => {
        if (alive()) signalGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // Whatever is left in its process group (it was the group leader).
        signalGroup(pid, 'SIGKILL');
        liveGroups.delete(pid);
      })();
      return stopping;
    },
  };
  const unregister = onCleanup(name, () => child.stop());
  void exited.then(() => {
    if (stopping) return;
    liveGroups.delete(pid);
    unregister();
    if (options.critical)
      failBench(new Error(`${name} (pid ${pid}) exited unexpectedly (${proc.exitCode ?? proc.signalCode}); its last output:\n${text.slice(-3_000)}`));
  });

  if (!options.ready) return { child, match: undefined };
  const ready = options.ready;
  const deadline = options.readyTimeoutMs ?? 60_000;
  try {
    const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = (): void => {
        const m = text.match(ready);
        if (m) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name} did not print ${ready} within ${deadline} ms:\n${text.slice(-2_000)}`));
      }, deadline);
      const onExit = (): void => {
        done();
        reject(new Error(`${name} exited before it was ready:\n${text.slice(-2_000)}`));
      };
      const done = (): void => {
        clearTimeout(timer);
        proc.stdout?.off('data', check);
        proc.stderr?.off('data', check);
        proc.off('exit', onExit);
      };
      proc.stdout?.on('data', check);
      proc.stderr?.on('data', check);
      proc.once('exit', onExit);
      check();
    });
    return { child, match };
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
}

/** Signals a process group we created (detached child = group leader); gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills a single process we know we caused to exist (e.g. an instance the router started), if still alive. */
export function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  signalGroup(pid, 'SIGKILL');
}

function withDeadline(promise: Promise<void>, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took over ${timeoutMs} ms`)), timeoutMs);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Runs a bench's main function: progress on stderr under `name`, everything
 * registered with onCleanup/startChild stopped at the end (also on Ctrl-C or
 * an uncaught error), exit code 1 on failure.
 */
export function runBench(name: string, main: () => Promise<void>): void {
  setBenchName(name);
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything this bench started`);
    void cleanupAll().finally(() => process.exit(128 + constants.signals[signal]));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => interrupt(signal));
  // An error thrown where nothing awaits it (e.g. inside an in-process router) still stops everything we started.
  process.on('uncaughtException', (err) => failBench(err));
  process.on('unhandledRejection', (err) => failBench(err instanceof Error ? err : new Error(String(err))));
  const started = Date.now();
  Promise.race([main(), fatalError])
    .then(
      () => {
        log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
        return 0;
      },
      (err: unknown) => {
        // After a signal, main fails because its children were stopped under it: expected, not news.
        if (!interrupted) log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return 1;
      },
    )
    .then(async (code) => {
      if (interrupted) return; // the signal handler stops everything and exits
      await cleanupAll();
      // Temporal's native runtime and undici keep-alive sockets may hold the loop: exit explicitly.
      process.exit(code);
    })
    .catch(() => process.exit(1));
}
