// The process provider's record of one instance: its port, log file and run,
// the state the views show, and what supervision tracks (restarts, back-off, probes).

import type { Run } from './process-run.js';
import type { InstanceState } from './provider.js';

/** The first restart after a crash waits this long; instance-supervisor.ts doubles it per crash. */
export const BACKOFF_MIN_MS = 200;

export interface Instance {
  readonly id: string;
  readonly logFile: string;
  port: number;
  run: Run | undefined;
  /** The recorded pid while re-adoption is being decided. */
  adoptPid: number | undefined;
  /** Its recorded start time (none in records of an older saferoll). */
  adoptStartTime: number | undefined;
  state: InstanceState;
  reason: string | undefined;
  restarts: number;
  readyAt: number | undefined;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  failedProbes: number;
  probing: boolean;
  /** Stopped on purpose (scale down, stop): never restarted. */
  removed: boolean;
  /** Failed to provision in scale(): stays down until the next scale() retries it. */
  parked: boolean;
}

export function newInstance(id: string, logFile: string): Instance {
  return {
    id,
    logFile,
    port: 0,
    run: undefined,
    adoptPid: undefined,
    adoptStartTime: undefined,
    state: 'starting',
    reason: undefined,
    restarts: 0,
    readyAt: undefined,
    backoffMs: BACKOFF_MIN_MS,
    restartTimer: undefined,
    failedProbes: 0,
    probing: false,
    removed: false,
    parked: false,
  };
}

/** Object.assign, but the patch is type-checked against Instance. */
export function update(inst: Instance, patch: Partial<Omit<Instance, 'id' | 'logFile'>>): void {
  Object.assign(inst, patch);
}

export function byId(a: Instance, b: Instance): number {
  return Number(a.id) - Number(b.id) || a.id.localeCompare(b.id);
}

export function urlOf(port: number): string {
  return `http://127.0.0.1:${port}`;
}
