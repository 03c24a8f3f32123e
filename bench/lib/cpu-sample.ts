// CPU used by groups of processes, and by the whole machine, over a window
// of a load run: tells whether a single-threaded proxy is the one saturated
// core while the machine still has idle capacity.
import { cpuMs, machineCpuMs, pidOf, syscalls, type CpuTarget } from './proc-stat.js';

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

const keyOf = (target: CpuTarget): string => (typeof target === 'number' ? String(target) : `${target.mainThreadOf}/main-thread`);
/** A process that is gone (or not there yet) counts as 0 ms. */
const msOf = (target: CpuTarget): number => cpuMs(target) || 0;

/** Starts measuring the targets `groups()` lists (asked again at the end); the returned function ends the measurement. */
export function startCpuSample(groups: () => CpuGroups): () => CpuUsage {
  const startedAt = process.hrtime.bigint();
  const startMachine = machineCpuMs();
  const startMs = new Map<string, number>();
  const startIo = new Map<number, { reads: number; writes: number }>();
  for (const targets of Object.values(groups())) {
    for (const target of targets) {
      startMs.set(keyOf(target), msOf(target));
      if (!startIo.has(pidOf(target))) startIo.set(pidOf(target), syscalls(pidOf(target)));
    }
  }
  return () => {
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const endMachine = machineCpuMs();
    const cores: Record<string, number> = {};
    const calls: Record<string, { reads: number; writes: number }> = {};
    for (const [group, targets] of Object.entries(groups())) {
      let ms = 0;
      const io = { reads: 0, writes: 0 };
      for (const target of targets) {
        ms += msOf(target) - (startMs.get(keyOf(target)) ?? 0);
        // Syscalls are per process (/proc/<pid>/io sums its threads).
        const pid = pidOf(target);
        const end = syscalls(pid);
        io.reads += end.reads - (startIo.get(pid)?.reads ?? 0);
        io.writes += end.writes - (startIo.get(pid)?.writes ?? 0);
      }
      cores[group] = ms / 1000 / seconds;
      calls[group] = io;
    }
    const total = endMachine.total - startMachine.total;
    return { seconds, cores, syscalls: calls, machineBusy: total > 0 ? (endMachine.busy - startMachine.busy) / total : 0 };
  };
}
