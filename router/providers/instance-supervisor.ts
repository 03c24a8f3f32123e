// Keeps started process instances serving: restarts a crashed one with
// exponential back-off, probes ready ones so a silent one leaves the ready
// set, and restarts one that stays silent (hung).

import { BACKOFF_MIN_MS, update, type Instance } from './process-instance.js';
import { stopRun, type Run } from './process-run.js';
import type { ReadinessProbe } from './readiness-probe.js';

const UNHEALTHY_AFTER_FAILURES = 3;
/**
 * An instance that stays silent this many probes in a row (about 30 s at the
 * default 2 s interval) is hung, not slow: it is killed, and its end is
 * handled as a crash (restart with back-off).
 */
const RESTART_AFTER_FAILURES = 15;
const HUNG_STOP_GRACE_MS = 2_000;
const BACKOFF_MAX_MS = 10_000;
const STABLE_RUN_MS = 30_000;

/** What the supervisor needs from the provider whose instances it watches. */
export interface SupervisedInstances {
  /** True after stop() or detach(): nothing is restarted or re-marked any more. */
  isClosed(): boolean;
  /** The instances to probe. */
  list(): readonly Instance[];
  /** Starts a crashed instance again; rejects when it does not become ready. */
  restart(inst: Instance): Promise<void>;
  /** Tells the provider's listeners that the ready set or the records changed. */
  changed(): void;
}

export class InstanceSupervisor {
  private readonly healthTimer: NodeJS.Timeout;

  constructor(
    private readonly instances: SupervisedInstances,
    private readonly probe: ReadinessProbe,
    healthProbeIntervalMs: number,
  ) {
    this.healthTimer = setInterval(() => void this.probeHealth(), healthProbeIntervalMs);
    this.healthTimer.unref();
  }

  /** Watches `run` of `inst`: once the instance was ready, its end is a crash to restart. */
  watch(inst: Instance, run: Run): void {
    void run.ended.then((reason) => this.onEnded(inst, run, reason));
  }

  scheduleRestart(inst: Instance): void {
    if (this.instances.isClosed() || inst.removed) return;
    const delayMs = inst.backoffMs;
    inst.backoffMs = Math.min(delayMs * 2, BACKOFF_MAX_MS);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      inst.restarts += 1;
      void this.instances.restart(inst).catch(() => this.scheduleRestart(inst));
    }, delayMs);
    inst.restartTimer.unref();
  }

  cancelRestart(inst: Instance): void {
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
  }

  /** Stops the health probes (pending restarts are cancelled per instance). */
  stop(): void {
    clearInterval(this.healthTimer);
  }

  /** A process ended. While starting, the provider's awaitReady() reports it; after ready it is a crash. */
  private onEnded(inst: Instance, run: Run, reason: string): void {
    clearInterval(run.livenessTimer);
    if (inst.run !== run || this.instances.isClosed() || inst.removed || inst.state === 'starting') return;
    // Back-off starts over only after a stable run, so a crash loop slows down.
    if (inst.readyAt !== undefined && Date.now() - inst.readyAt >= STABLE_RUN_MS) inst.backoffMs = BACKOFF_MIN_MS;
    update(inst, { run: undefined, state: 'crashed', reason, readyAt: undefined });
    this.instances.changed();
    this.scheduleRestart(inst);
  }

  private async probeHealth(): Promise<void> {
    const due = this.instances.list().filter((inst) => (inst.state === 'ready' || inst.state === 'unhealthy') && !inst.probing);
    await Promise.all(
      due.map(async (inst) => {
        const run = inst.run;
        inst.probing = true;
        const probe = await this.probe.check(inst.port);
        inst.probing = false;
        if (this.instances.isClosed() || inst.run !== run || (inst.state !== 'ready' && inst.state !== 'unhealthy')) return;
        if (probe.ok) {
          inst.failedProbes = 0;
          if (inst.state === 'unhealthy') {
            update(inst, { state: 'ready', reason: undefined });
            this.instances.changed();
          }
          return;
        }
        inst.failedProbes += 1;
        if (inst.state === 'unhealthy' && inst.failedProbes === RESTART_AFTER_FAILURES && run) {
          update(inst, { reason: `no answer to ${inst.failedProbes} readiness probes in a row: restarting it (last: ${probe.detail})` });
          // A re-adopted process has no exit event: report its end here (a second report is ignored).
          void stopRun(run, HUNG_STOP_GRACE_MS).then(() => this.onEnded(inst, run, 'killed after it stopped answering'));
          return;
        }
        if (inst.state === 'ready' && inst.failedProbes >= UNHEALTHY_AFTER_FAILURES) {
          update(inst, { state: 'unhealthy', reason: `readiness failed ${inst.failedProbes} times in a row (last: ${probe.detail})` });
          this.instances.changed();
        }
      }),
    );
  }
}
