// The `process` deployment provider: the router starts one child per instance
// on a free loopback port, waits for its readiness path, restarts it when it
// crashes, and re-adopts the children after the router itself restarts.
// This file keeps the set of instances; bringing one up is instance-starter.ts,
// keeping it up (crash restarts, health probes) instance-supervisor.ts.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InstanceStarter } from './instance-starter.js';
import { InstanceSupervisor } from './instance-supervisor.js';
import { tailLines } from './os-process.js';
import { byId, newInstance, update, urlOf, type Instance } from './process-instance.js';
import { stopRun, type LaunchSettings } from './process-run.js';
import { ReadinessProbe } from './readiness-probe.js';
import type { ProcessSpec } from '../../shared/contracts.js';
import { SaferollError } from '../../shared/errors.js';
import type { DeploymentProvider, InstanceRecord, InstanceView } from './provider.js';

export interface ProcessProviderOptions {
  /** "endpoint/deployment": names the log files and appears in errors. */
  readonly deploymentKey: string;
  readonly spec: ProcessSpec;
  readonly logDir: string;
  /** Isolation from the router's secrets, and the owner marker that proves an instance ours. */
  readonly launch: LaunchSettings;
  readonly readinessTimeoutMs?: number | undefined;
  readonly stopGraceMs?: number | undefined;
  /** How often ready instances are probed (default 2 s); tests shorten it. */
  readonly healthProbeIntervalMs?: number | undefined;
  /** Records a previous router process persisted, to re-adopt its children. */
  readonly restore?: readonly InstanceRecord[] | undefined;
}

export class ProcessProvider implements DeploymentProvider {
  readonly kind = 'process' as const;
  private readonly key: string;
  private readonly logDir: string;
  private readonly stopGraceMs: number;
  private readonly probe: ReadinessProbe;
  private readonly supervisor: InstanceSupervisor;
  private readonly starter: InstanceStarter;
  private readonly listeners: Array<() => void> = [];
  private list: Instance[] = [];
  /** scale() and restore run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Set by stop() and detach(): nothing new is spawned, restarted or adopted. */
  private closed = false;
  private detached = false;
  private stopping: Promise<void> | undefined;

  constructor(options: ProcessProviderOptions) {
    this.key = options.deploymentKey;
    this.probe = new ReadinessProbe(options.spec.readinessPath);
    this.logDir = options.logDir;
    this.stopGraceMs = options.stopGraceMs ?? 5_000;
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    const isClosed = (): boolean => this.closed;
    const changed = (): void => this.changed();
    this.supervisor = new InstanceSupervisor(
      { isClosed, list: () => this.list, restart: (inst) => this.starter.start(inst, false), changed },
      this.probe,
      options.healthProbeIntervalMs ?? 2_000,
    );
    this.starter = new InstanceStarter(
      {
        key: this.key,
        spec: options.spec,
        readinessTimeoutMs: options.readinessTimeoutMs ?? 30_000,
        stopGraceMs: this.stopGraceMs,
        launch: options.launch,
        isClosed,
        isDetached: () => this.detached,
        changed,
        warn: (line) => console.warn(`saferoll router: ${this.key} ${line}`),
      },
      this.probe,
      this.supervisor,
    );
    const restore = options.restore ?? [];
    if (restore.length > 0) {
      // Listed at once, so records() keeps reporting them while adoption is decided.
      for (const record of restore) {
        // The log is always ours: a recorded path may lead into another router's state dir (a copy of this one).
        const inst = newInstance(record.id, this.logFileOf(record.id));
        inst.port = record.port;
        inst.adoptPid = record.pid;
        inst.adoptStartTime = record.startTime;
        this.list.push(inst);
      }
      this.list.sort(byId);
      // restore() handles its own failures; nobody awaits a restore.
      void this.serial(() => Promise.all(this.list.map((inst) => this.starter.restore(inst)))).catch(() => undefined);
    }
  }

  /**
   * Stops the highest ids beyond `count`, starts missing instances (and retries
   * ones that failed to provision before) and resolves when those are ready.
   * Instances already restarting after a crash are left to their back-off.
   */
  scale(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1) {
      return Promise.reject(
        new SaferollError('SAFEROLL_E_VALIDATION', `instanceCount must be a whole number of at least 1, got ${count}`, { field: 'instanceCount' }),
      );
    }
    if (this.closed) return Promise.reject(new SaferollError('SAFEROLL_E_CONFLICT', `${this.key} is stopped`));
    return this.serial(async () => {
      const extra = this.list.slice(count);
      if (extra.length > 0) {
        this.list = this.list.slice(0, count);
        for (const inst of extra) inst.removed = true;
        this.changed();
        await Promise.all(extra.map((inst) => this.stopInstance(inst)));
      }
      const starts: Promise<void>[] = [];
      for (const inst of this.list) {
        if (inst.parked) starts.push(this.provision(inst));
      }
      while (this.list.length < count) {
        const id = this.nextId();
        const inst = newInstance(id, this.logFileOf(id));
        this.list.push(inst);
        starts.push(this.provision(inst));
      }
      this.list.sort(byId);
      const failure = (await Promise.allSettled(starts)).find((result) => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    });
  }

  instances(): readonly InstanceView[] {
    return this.list.map((inst) => ({
      id: inst.id,
      url: urlOf(inst.port),
      state: inst.state,
      healthy: inst.state === 'ready',
      restarts: inst.restarts,
      pid: inst.run?.pid ?? inst.adoptPid,
      reason: inst.reason,
    }));
  }

  readyUrls(): readonly string[] {
    return this.list.filter((inst) => inst.state === 'ready').map((inst) => urlOf(inst.port));
  }

  async logs(lines: number): Promise<string[]> {
    const out: string[] = [];
    for (const inst of this.list) {
      for (const line of await tailLines(inst.logFile, lines)) out.push(`[${inst.id}] ${line}`);
    }
    return out;
  }

  records(): InstanceRecord[] {
    const out: InstanceRecord[] = [];
    for (const inst of this.list) {
      const pid = inst.run?.pid ?? inst.adoptPid;
      const startTime = inst.run !== undefined ? inst.run.startTime : inst.adoptStartTime;
      if (pid !== undefined) out.push({ id: inst.id, port: inst.port, pid, startTime, logFile: inst.logFile });
    }
    return out;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** After detach() the children belong to the next router process: stop() leaves them alone. */
  stop(): Promise<void> {
    if (this.detached) return Promise.resolve();
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  detach(): void {
    if (this.closed) return;
    this.closed = true;
    this.detached = true;
    this.supervisor.stop();
    for (const inst of this.list) {
      this.supervisor.cancelRestart(inst);
      clearInterval(inst.run?.livenessTimer);
    }
    this.listeners.length = 0;
    void this.probe.close();
  }

  private async stopAll(): Promise<void> {
    this.closed = true;
    this.supervisor.stop();
    for (const inst of this.list) {
      inst.removed = true;
      this.supervisor.cancelRestart(inst);
    }
    // In-flight scale() or restore notice `closed` within one probe and unwind.
    await this.queue;
    await Promise.all(this.list.map((inst) => this.stopInstance(inst)));
    this.changed();
    this.listeners.length = 0;
    await this.probe.close();
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private logFileOf(id: string): string {
    return join(this.logDir, `${this.key.replace(/[^A-Za-z0-9._-]/g, '_')}-${id}.log`);
  }

  private nextId(): string {
    const used = new Set(this.list.map((inst) => inst.id));
    let n = 0;
    while (used.has(String(n))) n += 1;
    return String(n);
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        // A listener's bug must not break supervision of the instances.
        process.emitWarning(`onChange listener of ${this.key} threw: ${String(err)}`);
      }
    }
  }

  /** Starts an instance for scale(); a failure parks it for the next scale(). */
  private async provision(inst: Instance): Promise<void> {
    inst.parked = false;
    try {
      await this.starter.start(inst, true);
    } catch (err) {
      inst.parked = !inst.removed && !this.closed;
      throw err;
    }
  }

  private async stopInstance(inst: Instance): Promise<void> {
    inst.removed = true;
    this.supervisor.cancelRestart(inst);
    if (inst.run !== undefined) await stopRun(inst.run, this.stopGraceMs);
    update(inst, { run: undefined, adoptPid: undefined, adoptStartTime: undefined, state: 'stopped', reason: undefined });
  }
}
