// CPU time of processes and of the whole machine from /proc, sampled around
// a load run: tells whether a single-threaded proxy is the one saturated
// core while the machine still has idle capacity.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux we run on

/** A process (all its threads), or only its main thread (the JS thread of Node). */
export type CpuTarget = number | { mainThreadOf: number };

function statPath(target: CpuTarget): string {
  return typeof target === 'number' ? `/proc/${target}/stat` : `/proc/${target.mainThreadOf}/task/${target.mainThreadOf}/stat`;
}

function pidOf(target: CpuTarget): number {
  return typeof target === 'number' ? target : target.mainThreadOf;
}

/** user + system ticks of a process or thread, or 0 when it is gone. */
function processTicks(target: CpuTarget): number {
  try {
    const stat = readFileSync(statPath(target), 'utf8');
    // Field 2 (comm) may contain spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}

/** Direct children of `pid` (nginx workers of the master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Read-like and write-like syscalls so far (read/readv/recv…, write/writev/send…). */
function processIo(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(io.match(/^syscr: (\d+)/m)?.[1] ?? 0), writes: Number(io.match(/^syscw: (\d+)/m)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuGroups {
  [group: string]: CpuTarget[];
}

export interface CpuUsage {
  seconds: number;
  /** Cores used per group over the interval (1 = one core fully busy). */
  cores: Record<string, number>;
  /** Read and write syscalls per group over the interval. */
  syscalls: Record<string, { reads: number; writes: number }>;
  /** Busy share of all cores of the machine, 0..1 (includes everything else running). */
  machineBusy: number;
}

/** Starts measuring the targets `groups()` lists; the returned function ends the measurement. */
export function startCpuSample(groups: () => CpuGroups): () => CpuUsage {
  const startedAt = process.hrtime.bigint();
  const startMachine = machineTicks();
  const startTicks = new Map<string, number>();
  const startIo = new Map<number, { reads: number; writes: number }>();
  const snapshot = (): void => {
    for (const targets of Object.values(groups())) {
      for (const target of targets) {
        startTicks.set(statPath(target), processTicks(target));
        if (!startIo.has(pidOf(target))) startIo.set(pidOf(target), processIo(pidOf(target)));
      }
    }
  };
  snapshot();
  return () => {
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const endMachine = machineTicks();
    const cores: Record<string, number> = {};
    const syscalls: Record<string, { reads: number; writes: number }> = {};
    for (const [group, targets] of Object.entries(groups())) {
      let ticks = 0;
      const io = { reads: 0, writes: 0 };
      for (const target of targets) {
        ticks += processTicks(target) - (startTicks.get(statPath(target)) ?? 0);
        // Syscalls are per process (/proc/<pid>/io sums its threads).
        const pid = pidOf(target);
        const end = processIo(pid);
        io.reads += end.reads - (startIo.get(pid)?.reads ?? 0);
        io.writes += end.writes - (startIo.get(pid)?.writes ?? 0);
      }
      cores[group] = ticks / TICKS_PER_SECOND / seconds;
      syscalls[group] = io;
    }
    const total = endMachine.total - startMachine.total;
    return { seconds, cores, syscalls, machineBusy: total > 0 ? (endMachine.busy - startMachine.busy) / total : 0 };
  };
}
