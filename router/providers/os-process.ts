// Operating-system facts about processes the router must recognise: liveness
// and start time of a pid (zombies count as dead), a variable of its
// environment, process-group signals, and log tails. Used by the process
// provider (instances) and by the state-dir lock (the router holding it).
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

const TAIL_BYTES = 64 * 1024;

/** Alive and ours to signal. A zombie still answers kill(0), so /proc tells it apart where it exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: someone else's process, never one of ours
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of
 * /proc/<pid>/stat): with the pid it names one process for good, as a pid
 * alone is reused. Undefined when the process is gone or there is no /proc.
 */
export function startTimeOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStartTime(stat);
}

/** Field 22 of a /proc/<pid>/stat line. */
export function parseStartTime(stat: string): number | undefined {
  // Field 2 (comm) is the program name in parentheses and may itself hold spaces
  // and ')': field 3 starts after the LAST ')', so field 22 is the 20th from there.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const value = stat.slice(close + 2).split(' ')[19];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * The value of `name` in the environment the process was started with
 * (/proc/<pid>/environ); undefined when unset or unreadable.
 */
export function environValue(pid: number, name: string): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  for (const entry of environ.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function groupExists(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The last `count` lines of a log file, reading at most its last 64 KiB. */
export async function tailLines(file: string, count: number): Promise<string[]> {
  if (count <= 0) return [];
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let text = buffer.toString('utf8');
    // Started mid-file: the first line is partial.
    if (length < size) text = text.slice(text.indexOf('\n') + 1);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } finally {
    await handle.close();
  }
}
