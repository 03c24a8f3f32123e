// Child processes of a benchmark run: spawned in their own process group,
// awaited until they print their address, and always stopped, whether the
// run ends well, throws, or is interrupted with Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** Everything the child printed so far (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve once the output matches; the match is returned. Without it, resolve at once. */
  ready?: RegExp;
  readyTimeoutMs?: number;
}

const running = new Set<Child>();

export async function spawnChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Promise<{ child: Child; match: RegExpMatchArray | undefined }> {
  // detached: a process group of its own, so stopping it also stops what it
  // forks (nginx workers), and a Ctrl-C in the terminal reaches only us.
  const proc: ChildProcess = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    proc.once('error', () => resolve(null));
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    proc.once('spawn', () => resolve(undefined));
    proc.once('error', (err) => resolve(err));
  });
  if (spawned || proc.pid === undefined) throw new Error(`${name}: cannot start ${command}: ${spawned?.message ?? 'no pid'}`);
  const pid = proc.pid;

  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    pid,
    exited,
    output: () => text,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          signalGroup(pid, 'SIGTERM');
          const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        // Whatever the leader left behind in its group (nginx workers) goes too.
        signalGroup(pid, 'SIGKILL');
        running.delete(child);
      })();
      return stopping;
    },
  };
  running.add(child);
  void exited.then(() => {
    if (!stopping) running.delete(child);
  });

  const watchers: ((chunk: string) => void)[] = [];
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    if (text.length > 64_000) text = text.slice(-32_000);
    for (const watch of watchers) watch(text);
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);

  if (!options.ready) return { child, match: undefined };
  const pattern = options.ready;
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  try {
    const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready after ${timeoutMs} ms; output:\n${text}`)), timeoutMs);
      const check = (all: string): void => {
        const found = all.match(pattern);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      };
      watchers.push(check);
      check(text);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name}: exited (code ${code}) before it was ready; output:\n${text}`));
      });
    });
    return { child, match };
  } catch (err) {
    await child.stop(1_000);
    throw err;
  }
}

/** Stops every child still running (in parallel). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
/** Runs after the children are stopped when a signal ends the run (e.g. removing temp dirs). */
export function onInterruptCleanup(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

let interrupted = false;
/** True once a signal has started stopping the run (errors after that are expected). */
export function isInterrupted(): boolean {
  return interrupted;
}

let installed = false;
/** Ctrl-C, SIGTERM and a sudden exit stop the children; call once at start. */
export function stopChildrenOnExit(onSignal?: (signal: string) => void): void {
  if (installed) return;
  installed = true;
  // Last resort on any exit path: no waiting possible here, so SIGKILL.
  process.on('exit', () => {
    for (const child of running) signalGroup(child.pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      onSignal?.(signal);
      void stopAllChildren()
        .then(() => Promise.allSettled(cleanups.map((cleanup) => cleanup())))
        .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
