// Brings one process instance up: spawns it and waits for its readiness path,
// or re-adopts the process a previous router left running.

import type { InstanceSupervisor } from './instance-supervisor.js';
import { freePort } from '../../shared/free-port.js';
import { readEnvFiles } from './env-files.js';
import { checkIsolation } from './instance-isolation.js';
import { tailLines } from './os-process.js';
import { update, type Instance } from './process-instance.js';
import { ownershipOf } from './process-ownership.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { adoptedRun, spawnRun, stopRun, type LaunchSettings, type Run } from './process-run.js';
import type { ProcessSpec } from '../../shared/contracts.js';
import { PROBE_TIMEOUT_MS, type ReadinessProbe } from './readiness-probe.js';
import { SaferollError } from '../../shared/errors.js';

const READY_POLL_MS = 100;
const ADOPTED_LIVENESS_MS = 500;
const FAILURE_OUTPUT_LINES = 20;

/** The provider's settings and state that starting an instance depends on. */
export interface StartingDeployment {
  /** "endpoint/deployment", for errors. */
  readonly key: string;
  readonly spec: ProcessSpec;
  readonly readinessTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly launch: LaunchSettings;
  /** True after stop() or detach(): nothing new is spawned or adopted. */
  isClosed(): boolean;
  /** True after detach(): the processes belong to the next router, never signal them. */
  isDetached(): boolean;
  /** Tells the provider's listeners that the ready set or the records changed. */
  changed(): void;
  /** Writes a line to the router's log. */
  warn(line: string): void;
}

export class InstanceStarter {
  constructor(
    private readonly deployment: StartingDeployment,
    private readonly probe: ReadinessProbe,
    private readonly supervisor: InstanceSupervisor,
  ) {}

  /** Spawns the instance and waits for readiness; on failure kills it and throws with its last output. */
  async start(inst: Instance, fresh: boolean): Promise<void> {
    const run = await this.spawn(inst, fresh);
    const failure = await this.awaitReady(inst, run);
    if (failure === undefined) {
      update(inst, { state: 'ready', reason: undefined, readyAt: Date.now(), failedProbes: 0 });
      this.deployment.changed();
      return;
    }
    if (!this.deployment.isDetached()) await stopRun(run, this.deployment.stopGraceMs);
    if (inst.run === run) {
      update(inst, { run: undefined, state: inst.removed || this.deployment.isClosed() ? 'stopped' : 'crashed', reason: failure });
      this.deployment.changed();
    }
    const output = await tailLines(inst.logFile, FAILURE_OUTPUT_LINES);
    const shown = output.length > 0 ? `\nlast output lines:\n${output.map((line) => `  ${line}`).join('\n')}` : '\n(no output)';
    throw new SaferollError('SAFEROLL_E_PROVISIONING', `${this.deployment.key} instance ${inst.id} did not become ready: ${failure}${shown}`);
  }

  /**
   * Adopts the recorded process if it is provably ours (pid, start time and
   * owner marker match) and answers; otherwise starts afresh. A process that is
   * not provably ours is never signalled: a pid is reused by the system, and a
   * copy of the state dir names processes of another router.
   */
  async restore(inst: Instance): Promise<void> {
    const pid = inst.adoptPid;
    const startTime = inst.adoptStartTime;
    const ownership = pid === undefined ? undefined : ownershipOf(pid, startTime, this.deployment.launch.marker);
    if (pid !== undefined && startTime !== undefined && ownership?.ours === true && (await this.probe.check(inst.port)).ok) {
      const run = adoptedRun(pid, startTime, this.deployment.isClosed() ? undefined : ADOPTED_LIVENESS_MS);
      update(inst, { run, adoptPid: undefined, adoptStartTime: undefined, state: 'ready', reason: undefined, readyAt: Date.now() });
      this.deployment.changed();
      this.supervisor.watch(inst, run);
      return;
    }
    if (pid !== undefined && startTime !== undefined && ownership?.ours === true && !this.deployment.isDetached()) {
      // Ours, but it does not answer: a leftover to replace.
      await stopRun(adoptedRun(pid, startTime, undefined), this.deployment.stopGraceMs);
    } else if (ownership?.ours === false && ownership.running) {
      this.deployment.warn(`instance ${inst.id}: not adopting the recorded process: ${ownership.why}; it is left alone and a new instance is started`);
    }
    update(inst, { adoptPid: undefined, adoptStartTime: undefined });
    try {
      await this.start(inst, true);
    } catch {
      // Nobody awaits a restore: keep trying, as after a crash.
      this.supervisor.scheduleRestart(inst);
    }
  }

  private async spawn(inst: Instance, fresh: boolean): Promise<Run> {
    let fileEnv: Record<string, string>;
    try {
      await checkIsolation(this.deployment.launch.isolation);
      fileEnv = await readEnvFiles(this.deployment.spec.envFiles ?? []);
    } catch (err) {
      const reason = (err as Error).message;
      update(inst, { state: inst.removed || this.deployment.isClosed() ? 'stopped' : 'crashed', reason });
      this.deployment.changed();
      throw new SaferollError('SAFEROLL_E_PROVISIONING', `${this.deployment.key} instance ${inst.id} cannot start: ${reason}`);
    }
    const port = await freePort();
    // Checked right before spawning (no await in between), so stop() never misses a child.
    if (this.deployment.isClosed() || inst.removed) {
      throw new SaferollError('SAFEROLL_E_PROVISIONING', `${this.deployment.key} was stopped before instance ${inst.id} started`);
    }
    const restartNote = fresh ? undefined : `--- saferoll: restart ${inst.restarts} of instance ${inst.id} after: ${inst.reason ?? 'exit'} ---\n`;
    const run = spawnRun(this.deployment.spec, port, inst.logFile, restartNote, this.deployment.launch, fileEnv);
    update(inst, { run, port, state: 'starting', readyAt: undefined });
    this.deployment.changed();
    this.supervisor.watch(inst, run);
    return run;
  }

  /** Resolves undefined once ready, or with why the instance will not be. */
  private async awaitReady(inst: Instance, run: Run): Promise<string | undefined> {
    const timeoutMs = this.deployment.readinessTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (this.deployment.isClosed() || inst.removed) return 'the deployment was stopped while the instance was starting';
      if (run.endReason !== undefined) return `${run.endReason} before becoming ready`;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return `timed out after ${timeoutMs} ms waiting for GET ${this.probe.path} to answer 2xx (last: ${last})`;
      }
      const probe = await this.probe.check(inst.port, Math.min(PROBE_TIMEOUT_MS, remaining));
      if (probe.ok && run.endReason === undefined) return undefined;
      last = probe.detail;
      await Promise.race([sleep(READY_POLL_MS), run.ended]);
    }
  }
}
