// The `process` deployment provider: the router starts one child per instance
// on a free loopback port, waits for its readiness path, restarts it when it
// crashes, and re-adopts the children after the router itself restarts.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { commandMatches, freePort, groupExists, isRunning, signalGroup, tailLines } from './os-process.js';
import { SaferollError } from '../../shared/errors.js';
import type { DeploymentProvider, InstanceRecord, InstanceState, InstanceView } from './provider.js';

export interface ProcessCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the router's own environment; PORT is set by the provider. */
  readonly env: Readonly<Record<string, string>>;
  /** Polled with GET until it answers 2xx, e.g. "/healthz". */
  readonly readinessPath: string;
  readonly cwd?: string | undefined;
}

export interface ProcessProviderOptions {
  /** "endpoint/deployment": names the log files and appears in errors. */
  readonly deploymentKey: string;
  readonly spec: ProcessCommand;
  readonly logDir: string;
  readonly readinessTimeoutMs?: number | undefined;
  readonly stopGraceMs?: number | undefined;
  /** How often ready instances are probed (default 2 s); tests shorten it. */
  readonly healthProbeIntervalMs?: number | undefined;
  /** Records a previous router process persisted, to re-adopt its children. */
  readonly restore?: readonly InstanceRecord[] | undefined;
}

const READY_POLL_MS = 100;
const PROBE_TIMEOUT_MS = 1_000;
const UNHEALTHY_AFTER_FAILURES = 3;
const ADOPTED_LIVENESS_MS = 500;
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 10_000;
const STABLE_RUN_MS = 30_000;
const KILL_WAIT_MS = 2_000;
const FAILURE_OUTPUT_LINES = 20;

/** One OS process serving an instance: a child we spawned, or one we re-adopted. */
interface Run {
  readonly pid: number | undefined;
  /** Absent for a re-adopted process: it is not our child, so no 'exit' event. */
  readonly child: ChildProcess | undefined;
  /** Resolves with why the process ended; never rejects. */
  readonly ended: Promise<string>;
  endReason: string | undefined;
  livenessTimer: NodeJS.Timeout | undefined;
}

interface Instance {
  readonly id: string;
  readonly logFile: string;
  port: number;
  run: Run | undefined;
  /** The recorded pid while re-adoption is being decided. */
  adoptPid: number | undefined;
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

interface Probe {
  readonly ok: boolean;
  readonly detail: string;
}

export class ProcessProvider implements DeploymentProvider {
  readonly kind = 'process' as const;
  private readonly key: string;
  private readonly spec: ProcessCommand;
  private readonly readinessPath: string;
  private readonly logDir: string;
  private readonly readinessTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly agent = new Agent({ connect: { timeout: PROBE_TIMEOUT_MS } });
  private readonly healthTimer: NodeJS.Timeout;
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
    this.spec = options.spec;
    this.readinessPath = options.spec.readinessPath.startsWith('/') ? options.spec.readinessPath : `/${options.spec.readinessPath}`;
    this.logDir = options.logDir;
    this.readinessTimeoutMs = options.readinessTimeoutMs ?? 30_000;
    this.stopGraceMs = options.stopGraceMs ?? 5_000;
    mkdirSync(this.logDir, { recursive: true });
    this.healthTimer = setInterval(() => void this.probeHealth(), options.healthProbeIntervalMs ?? 2_000);
    this.healthTimer.unref();
    const restore = options.restore ?? [];
    if (restore.length > 0) {
      // Listed at once, so records() keeps reporting them while adoption is decided.
      for (const record of restore) {
        const inst = newInstance(record.id, record.logFile);
        inst.port = record.port;
        inst.adoptPid = record.pid;
        this.list.push(inst);
      }
      this.list.sort(byId);
      // restoreInstance() handles its own failures; nobody awaits a restore.
      void this.serial(() => Promise.all(this.list.map((inst) => this.restoreInstance(inst)))).catch(() => undefined);
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
        const inst = newInstance(id, join(this.logDir, `${this.key.replace(/[^A-Za-z0-9._-]/g, '_')}-${id}.log`));
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
      if (pid !== undefined) out.push({ id: inst.id, port: inst.port, pid, logFile: inst.logFile });
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
    clearInterval(this.healthTimer);
    for (const inst of this.list) {
      clearTimeout(inst.restartTimer);
      clearInterval(inst.run?.livenessTimer);
    }
    this.listeners.length = 0;
    void this.agent.destroy().catch(() => undefined);
  }

  private async stopAll(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    for (const inst of this.list) {
      inst.removed = true;
      clearTimeout(inst.restartTimer);
    }
    // In-flight scale() or restore notice `closed` within one probe and unwind.
    await this.queue;
    await Promise.all(this.list.map((inst) => this.stopInstance(inst)));
    this.changed();
    this.listeners.length = 0;
    await this.agent.destroy().catch(() => undefined);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
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
      await this.startInstance(inst, true);
    } catch (err) {
      inst.parked = !inst.removed && !this.closed;
      throw err;
    }
  }

  /** Spawns the instance and waits for readiness; on failure kills it and throws with its last output. */
  private async startInstance(inst: Instance, fresh: boolean): Promise<void> {
    const run = await this.spawnRun(inst, fresh);
    const failure = await this.awaitReady(inst, run);
    if (failure === undefined) {
      update(inst, { state: 'ready', reason: undefined, readyAt: Date.now(), failedProbes: 0 });
      this.changed();
      return;
    }
    if (!this.detached) await this.stopRun(run);
    if (inst.run === run) {
      update(inst, { run: undefined, state: inst.removed || this.closed ? 'stopped' : 'crashed', reason: failure });
      this.changed();
    }
    const output = await tailLines(inst.logFile, FAILURE_OUTPUT_LINES);
    const shown = output.length > 0 ? `\nlast output lines:\n${output.map((line) => `  ${line}`).join('\n')}` : '\n(no output)';
    throw new SaferollError('SAFEROLL_E_PROVISIONING', `${this.key} instance ${inst.id} did not become ready: ${failure}${shown}`);
  }

  private async spawnRun(inst: Instance, fresh: boolean): Promise<Run> {
    const port = await freePort();
    // Checked right before spawning (no await in between), so stop() never misses a child.
    if (this.closed || inst.removed) throw new SaferollError('SAFEROLL_E_PROVISIONING', `${this.key} was stopped before instance ${inst.id} started`);
    const logFile = inst.logFile;
    if (fresh) writeFileSync(logFile, '');
    // A file, not a pipe: a pipe breaks when the router is killed -9, and the
    // re-adopted child would then die on its next write.
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      if (!fresh) writeSync(fd, `--- saferoll: restart ${inst.restarts} of instance ${inst.id} after: ${inst.reason ?? 'exit'} ---\n`);
      child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        env: { ...inheritedEnv(), ...this.spec.env, PORT: String(port) },
        // Own process group: survives a SIGKILLed router, and stop() signals the whole group.
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    // The router may exit (detach) while its children keep running.
    child.unref();
    const { run, end } = newRun(child.pid, child);
    child.once('exit', (code, signal) => end(signal !== null ? `was killed by ${signal}` : `exited with code ${code}`));
    child.on('error', (err) => end(`failed to start: ${err.message}`));
    update(inst, { run, port, state: 'starting', readyAt: undefined });
    this.changed();
    void run.ended.then((reason) => this.onEnded(inst, run, reason));
    return run;
  }

  /** Resolves undefined once ready, or with why the instance will not be. */
  private async awaitReady(inst: Instance, run: Run): Promise<string | undefined> {
    const deadline = Date.now() + this.readinessTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (this.closed || inst.removed) return 'the deployment was stopped while the instance was starting';
      if (run.endReason !== undefined) return `${run.endReason} before becoming ready`;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return `timed out after ${this.readinessTimeoutMs} ms waiting for GET ${this.readinessPath} to answer 2xx (last: ${last})`;
      }
      const probe = await this.probe(inst.port, Math.min(PROBE_TIMEOUT_MS, remaining));
      if (probe.ok && run.endReason === undefined) return undefined;
      last = probe.detail;
      await Promise.race([sleep(READY_POLL_MS), run.ended]);
    }
  }

  /** A process ended. While starting, awaitReady() reports it; after ready it is a crash. */
  private onEnded(inst: Instance, run: Run, reason: string): void {
    clearInterval(run.livenessTimer);
    if (inst.run !== run || this.closed || inst.removed || inst.state === 'starting') return;
    // Back-off starts over only after a stable run, so a crash loop slows down.
    if (inst.readyAt !== undefined && Date.now() - inst.readyAt >= STABLE_RUN_MS) inst.backoffMs = BACKOFF_MIN_MS;
    update(inst, { run: undefined, state: 'crashed', reason, readyAt: undefined });
    this.changed();
    this.scheduleRestart(inst);
  }

  private scheduleRestart(inst: Instance): void {
    if (this.closed || inst.removed) return;
    const delayMs = inst.backoffMs;
    inst.backoffMs = Math.min(delayMs * 2, BACKOFF_MAX_MS);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      inst.restarts += 1;
      void this.startInstance(inst, false).catch(() => this.scheduleRestart(inst));
    }, delayMs);
    inst.restartTimer.unref();
  }

  /** Adopts the recorded process if it still runs and answers; otherwise starts afresh. */
  private async restoreInstance(inst: Instance): Promise<void> {
    const pid = inst.adoptPid;
    const running = pid !== undefined && isRunning(pid);
    // false: the pid now belongs to an unrelated program; undefined: cannot tell (no /proc).
    const ours = running ? commandMatches(pid, this.spec.command) : false;
    if (pid !== undefined && ours !== false && (await this.probe(inst.port)).ok) {
      const run = adoptedRun(pid, this.closed ? undefined : ADOPTED_LIVENESS_MS);
      update(inst, { run, adoptPid: undefined, state: 'ready', reason: undefined, readyAt: Date.now() });
      this.changed();
      void run.ended.then((reason) => this.onEnded(inst, run, reason));
      return;
    }
    if (pid !== undefined && ours === true && !this.detached) await this.stopRun(adoptedRun(pid, undefined));
    inst.adoptPid = undefined;
    try {
      await this.startInstance(inst, true);
    } catch {
      // Nobody awaits a restore: keep trying, as after a crash.
      this.scheduleRestart(inst);
    }
  }

  private async stopInstance(inst: Instance): Promise<void> {
    inst.removed = true;
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    if (inst.run !== undefined) await this.stopRun(inst.run);
    update(inst, { run: undefined, adoptPid: undefined, state: 'stopped', reason: undefined });
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves when gone. */
  private async stopRun(run: Run): Promise<void> {
    clearInterval(run.livenessTimer);
    if (run.pid === undefined) return;
    signalGroup(run.pid, 'SIGTERM');
    if (await waitGone(run, this.stopGraceMs)) return;
    signalGroup(run.pid, 'SIGKILL');
    await waitGone(run, KILL_WAIT_MS);
  }

  private async probeHealth(): Promise<void> {
    const due = this.list.filter((inst) => (inst.state === 'ready' || inst.state === 'unhealthy') && !inst.probing);
    await Promise.all(
      due.map(async (inst) => {
        const run = inst.run;
        inst.probing = true;
        const probe = await this.probe(inst.port);
        inst.probing = false;
        if (this.closed || inst.run !== run || (inst.state !== 'ready' && inst.state !== 'unhealthy')) return;
        if (probe.ok) {
          inst.failedProbes = 0;
          if (inst.state === 'unhealthy') {
            update(inst, { state: 'ready', reason: undefined });
            this.changed();
          }
          return;
        }
        inst.failedProbes += 1;
        if (inst.state === 'ready' && inst.failedProbes >= UNHEALTHY_AFTER_FAILURES) {
          update(inst, { state: 'unhealthy', reason: `readiness failed ${inst.failedProbes} times in a row (last: ${probe.detail})` });
          this.changed();
        }
      }),
    );
  }

  private async probe(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
    try {
      const res = await request(`${urlOf(port)}${this.readinessPath}`, {
        method: 'GET',
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? { ok: true, detail: 'ok' } : { ok: false, detail: `answered ${res.statusCode}` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, detail: code ?? (err instanceof Error ? err.message : String(err)) };
    }
  }
}

function newInstance(id: string, logFile: string): Instance {
  return {
    id,
    logFile,
    port: 0,
    run: undefined,
    adoptPid: undefined,
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
function update(inst: Instance, patch: Partial<Omit<Instance, 'id' | 'logFile'>>): void {
  Object.assign(inst, patch);
}

function byId(a: Instance, b: Instance): number {
  return Number(a.id) - Number(b.id) || a.id.localeCompare(b.id);
}

function urlOf(port: number): string {
  return `http://127.0.0.1:${port}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A Run whose `ended` settles once, through `end`, with the first reason given. */
function newRun(pid: number | undefined, child: ChildProcess | undefined): { run: Run; end: (reason: string) => void } {
  let resolveEnded: (reason: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => {
    resolveEnded = resolve;
  });
  const run: Run = { pid, child, ended, endReason: undefined, livenessTimer: undefined };
  const end = (reason: string): void => {
    if (run.endReason !== undefined) return;
    run.endReason = reason;
    clearInterval(run.livenessTimer);
    resolveEnded(reason);
  };
  return { run, end };
}

/** A Run for a pid that is not our child: its end is seen by polling liveness (no poll: never seen). */
function adoptedRun(pid: number, pollMs: number | undefined): Run {
  const { run, end } = newRun(pid, undefined);
  if (pollMs !== undefined) {
    run.livenessTimer = setInterval(() => {
      if (!isRunning(pid)) end('exited (re-adopted process, exit code unknown)');
    }, pollMs);
    run.livenessTimer.unref();
  }
  return run;
}






/** Waits until the process and the rest of its group are gone; false on timeout. */
async function waitGone(run: Run, timeoutMs: number): Promise<boolean> {
  const pid = run.pid;
  if (pid === undefined) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leaderGone = run.child !== undefined ? run.endReason !== undefined : !isRunning(pid);
    if (leaderGone && !groupExists(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/**
 * The router's environment without its own secrets: a deployment is code
 * being tried out and must not read the admin token or Temporal credentials.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SAFEROLL_') && !name.startsWith('TEMPORAL_')) env[name] = value;
  }
  return env;
}
