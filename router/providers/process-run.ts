// One OS process serving a process instance: spawned into its own process
// group with output to the instance's log file, or re-adopted; and stopping it.

import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { endReasonOf, launchOf, type InstanceIsolation } from './instance-isolation.js';
import { groupExists, isRunning, signalGroup, startTimeOf } from './os-process.js';
import { OWNER_MARKER_ENV } from './process-ownership.js';
import type { ProcessSpec } from '../../shared/contracts.js';

const KILL_WAIT_MS = 2_000;

/** One OS process serving an instance: a child we spawned, or one we re-adopted. */
export interface Run {
  readonly pid: number | undefined;
  /** Of `pid`, from /proc (undefined without it): a live pid with another start time is not ours. */
  readonly startTime: number | undefined;
  /** Absent for a re-adopted process: it is not our child, so no 'exit' event. */
  readonly child: ChildProcess | undefined;
  /** Resolves with why the process ended; never rejects. */
  readonly ended: Promise<string>;
  endReason: string | undefined;
  livenessTimer: NodeJS.Timeout | undefined;
}

/** How every instance of a router is started. */
export interface LaunchSettings {
  readonly isolation: InstanceIsolation;
  /** The router's owner marker (process-ownership.ts), put in the instance's environment. */
  readonly marker: string;
}

/**
 * Spawns `spec` with PORT set to `port`, output appended to `logFile`. A
 * restart writes `restartNote` to the log first; a fresh start (no note) empties it.
 * `fileEnv` holds the variables of the spec's env files, read just before.
 */
export function spawnRun(
  spec: ProcessSpec,
  port: number,
  logFile: string,
  restartNote: string | undefined,
  launch: LaunchSettings,
  fileEnv: Readonly<Record<string, string>>,
): Run {
  // The router's working directory: a relative command or path in args means what it means there.
  const cwd = process.cwd();
  const { file, args } = launchOf(launch.isolation, spec.command, spec.args, cwd);
  if (restartNote === undefined) writeFileSync(logFile, '', { mode: 0o600 });
  // A file, not a pipe: a pipe breaks when the router is killed -9, and the
  // re-adopted child would then die on its next write.
  const fd = openSync(logFile, 'a', 0o600); // output may hold secrets of the model: owner only
  let child: ChildProcess;
  try {
    if (restartNote !== undefined) writeSync(fd, restartNote);
    child = spawn(file, args, {
      cwd,
      env: { ...inheritedEnv(), ...fileEnv, ...spec.env, PORT: String(port), [OWNER_MARKER_ENV]: launch.marker },
      // Own process group: survives a SIGKILLed router, and stop() signals the whole group.
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  // The router may exit (detach) while its children keep running.
  child.unref();
  // Read now, while the child cannot have been reaped: its pid is surely still its own.
  const { run, end } = newRun(child.pid, child.pid === undefined ? undefined : startTimeOf(child.pid), child);
  child.once('exit', (code, signal) => end(endReasonOf(launch.isolation, code, signal)));
  child.on('error', (err) => end(`failed to start: ${err.message}`));
  return run;
}

/**
 * A Run for a pid that is not our child but proven ours (process-ownership.ts):
 * its end is seen by polling liveness (no poll: never seen).
 */
export function adoptedRun(pid: number, startTime: number, pollMs: number | undefined): Run {
  const { run, end } = newRun(pid, startTime, undefined);
  if (pollMs !== undefined) {
    run.livenessTimer = setInterval(() => {
      if (!isRunning(pid) || startTimeOf(pid) !== startTime) end('exited (re-adopted process, exit code unknown)');
    }, pollMs);
    run.livenessTimer.unref();
  }
  return run;
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when gone. */
export async function stopRun(run: Run, graceMs: number): Promise<void> {
  clearInterval(run.livenessTimer);
  if (run.pid === undefined || pidReused(run)) return;
  signalGroup(run.pid, 'SIGTERM');
  if (await waitGone(run, graceMs)) return;
  if (pidReused(run)) return;
  signalGroup(run.pid, 'SIGKILL');
  await waitGone(run, KILL_WAIT_MS);
}

/** A live process under the run's pid that started at another time: the pid, and its group, are someone else's now. */
function pidReused(run: Run): boolean {
  if (run.pid === undefined || run.startTime === undefined) return false;
  const now = startTimeOf(run.pid);
  return now !== undefined && now !== run.startTime;
}

/** A Run whose `ended` settles once, through `end`, with the first reason given. */
function newRun(pid: number | undefined, startTime: number | undefined, child: ChildProcess | undefined): { run: Run; end: (reason: string) => void } {
  let resolveEnded: (reason: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => {
    resolveEnded = resolve;
  });
  const run: Run = { pid, startTime, child, ended, endReason: undefined, livenessTimer: undefined };
  const end = (reason: string): void => {
    if (run.endReason !== undefined) return;
    run.endReason = reason;
    clearInterval(run.livenessTimer);
    resolveEnded(reason);
  };
  return { run, end };
}

/** Waits until the process and the rest of its group are gone; false on timeout. */
async function waitGone(run: Run, timeoutMs: number): Promise<boolean> {
  const pid = run.pid;
  if (pid === undefined) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The system reuses no pid while it names a process group: reused means ours is gone.
    if (pidReused(run)) return true;
    const leaderGone = run.child !== undefined ? run.endReason !== undefined : !isRunning(pid);
    if (leaderGone && !groupExists(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/**
 * The router's environment without its own secrets: a deployment is code
 * being tried out and must not read the admin token or Temporal credentials.
 * (This is not enough alone: /proc/<router pid>/environ keeps what the router
 * started with; instance-isolation.ts hides the router's processes.)
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SAFEROLL_') && !name.startsWith('TEMPORAL_')) env[name] = value;
  }
  return env;
}
