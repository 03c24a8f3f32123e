// Readers of /proc (Linux): CPU time of a process or of its main thread, of
// the whole machine, direct children of a process and its syscall counts.
// CPU per request stays meaningful when other load shares the machine.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** A process (all its threads), or only its main thread (the JS thread of Node). */
export type CpuTarget = number | { mainThreadOf: number };

export function pidOf(target: CpuTarget): number {
  return typeof target === 'number' ? target : target.mainThreadOf;
}

function statPath(target: CpuTarget): string {
  return typeof target === 'number' ? `/proc/${target}/stat` : `/proc/${target.mainThreadOf}/task/${target.mainThreadOf}/stat`;
}

/** The fields of a /proc stat line after the command name (in parentheses, may hold spaces): [0] is field 3. */
function statFields(file: string): string[] {
  const stat = readFileSync(file, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU milliseconds used so far by a process or thread; NaN when unknown (e.g. gone). */
export function cpuMs(target: CpuTarget): number {
  try {
    const fields = statFields(statPath(target));
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks(); // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN;
  }
}

/** Busy and total CPU time of the whole machine so far (ms summed over cores), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const tick = 1000 / clockTicks();
    return { busy: (total - idle) * tick, total: total * tick };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

/** CPU ms of this process so far (user + system). */
export function selfCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Direct children of `pid` (nginx workers of the master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(`/proc/${entry}/stat`)[1]) === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Read-like and write-like syscalls of a process so far (read/readv/recv…, write/writev/send…); zeros when unknown. */
export function syscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(io.match(/^syscr: (\d+)/m)?.[1] ?? 0), writes: Number(io.match(/^syscw: (\d+)/m)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}
