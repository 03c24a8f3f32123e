// Whether a recorded process is one this router's state dir started: the pid,
// its start time and the owner marker in its environment must all match. A pid
// alone is reused by the system, and a command name proves nothing.
import { environValue, isRunning, startTimeOf } from './os-process.js';

/** Set in every instance's environment at spawn, read back from /proc/<pid>/environ on adoption. */
export const OWNER_MARKER_ENV = 'SAFEROLL_INSTANCE_ID';

export type Ownership =
  | { readonly ours: true }
  /** `running`: a process with that pid runs, and it is someone else's: never signal it. */
  | { readonly ours: false; readonly running: boolean; readonly why: string };

/** Checks the process `pid`, recorded as started at `startTime`, against the router's `marker`. */
export function ownershipOf(pid: number, startTime: number | undefined, marker: string): Ownership {
  const running = isRunning(pid);
  if (startTime === undefined) {
    return { ours: false, running, why: `its record has no start time (written by an older saferoll), so pid ${pid} cannot be proven ours` };
  }
  if (!running) return { ours: false, running, why: `pid ${pid} is gone` };
  const now = startTimeOf(pid);
  if (now === undefined) return { ours: false, running, why: `the start time of pid ${pid} cannot be read (no /proc)` };
  if (now !== startTime) return { ours: false, running, why: `pid ${pid} now belongs to another process (started at ${now}, recorded ${startTime})` };
  if (environValue(pid, OWNER_MARKER_ENV) !== marker) {
    return { ours: false, running, why: `pid ${pid} was not started by a router on this state dir (no matching ${OWNER_MARKER_ENV})` };
  }
  return { ours: true };
}
