// Keeps one child of `saferoll dev` running: when it dies on its own it is
// started again after a back-off (0.5 s doubling to 10 s, back to 0.5 s once
// it has stayed up a minute), with a line for each death and restart. Only
// that child: the router keeps serving while Temporal or the worker restarts.
import type { ChildProcess } from 'node:child_process';
import { Backoff } from './backoff.js';

export interface RunningChild {
  child: ChildProcess;
  /** Stops it for good (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export interface ChildSupervisorOptions {
  /** As the lines say it: "the router". */
  name: string;
  /** Starts the child and resolves once it is up; rejects (having stopped it) when it cannot. `signal` aborts a start when the stack stops. */
  start(signal: AbortSignal): Promise<RunningChild>;
  log(line: string): void;
  /** The child's pid after each (re)start; undefined while it is down. */
  onPid(pid: number | undefined): void;
}

const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 10_000;
/** A child that stayed up this long died of something new: restart it quickly again. */
const STABLE_MS = 60_000;

export class ChildSupervisor {
  private current: RunningChild | undefined;
  private upSince = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private readonly backoff = new Backoff(RESTART_FIRST_MS, RESTART_MAX_MS);
  private readonly aborter = new AbortController();

  private constructor(private readonly options: ChildSupervisorOptions) {}

  /** Starts the child the first time (a failure here is the caller's: the stack does not come up) and then keeps it running. */
  static async start(options: ChildSupervisorOptions): Promise<ChildSupervisor> {
    const supervisor = new ChildSupervisor(options);
    supervisor.adopt(await options.start(supervisor.aborter.signal));
    return supervisor;
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** No more restarts; stops a start in progress and the running child. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.aborter.abort();
    await this.restarting;
    await this.current?.stop();
  }

  private adopt(running: RunningChild): void {
    this.current = running;
    this.upSince = Date.now();
    this.options.onPid(running.child.pid);
    const { child } = running;
    if (child.exitCode !== null || child.signalCode !== null) this.died(running, child.exitCode, child.signalCode);
    else child.once('exit', (code, signal) => this.died(running, code, signal));
  }

  private died(running: RunningChild, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.current !== running) return;
    this.current = undefined;
    this.options.onPid(undefined);
    if (Date.now() - this.upSince >= STABLE_MS) this.backoff.reset();
    this.scheduleRestart(`${this.options.name} (pid ${running.child.pid}) died (${signal ?? `exit code ${code}`})`);
  }

  private scheduleRestart(what: string): void {
    const waitMs = this.backoff.next();
    this.options.log(`[dev] ${what}; restarting it in ${waitMs / 1000} s`);
    this.restartTimer = setTimeout(() => {
      this.restarting = this.restart().finally(() => (this.restarting = undefined));
    }, waitMs);
  }

  private async restart(): Promise<void> {
    let running: RunningChild;
    try {
      running = await this.options.start(this.aborter.signal);
    } catch (err) {
      if (!this.stopping) this.scheduleRestart(`could not restart ${this.options.name}: ${(err as Error).message.split('\n')[0]}`);
      return;
    }
    if (this.stopping) {
      await running.stop();
      return;
    }
    this.options.log(`[dev] ${this.options.name} is back (pid ${running.child.pid})`);
    this.adopt(running);
  }
}
