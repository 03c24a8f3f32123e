// `saferoll worker` processes on a task queue of the test's own, which a chaos
// test kills with SIGKILL and replaces, as a crash and a supervisor's restart would.
import { spawnCli, type CliProcess } from './cli.js';
import { CHAOS_ADMIN_TOKEN, type RouterProcess } from './router-process.js';
import { waitFor } from './wait-for.js';

export class WorkerProcesses {
  readonly taskQueue = `saferoll-chaos-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly runs: CliProcess[] = [];

  constructor(
    private readonly temporalAddress: string,
    private readonly router: Pick<RouterProcess, 'adminUrl' | 'dataUrl'>,
  ) {}

  /** Starts one more worker and waits until it polls. */
  async start(): Promise<CliProcess> {
    const run = spawnCli(['worker', '--task-queue', this.taskQueue], {
      TEMPORAL_ADDRESS: this.temporalAddress,
      SAFEROLL_ROUTER_URL: this.router.adminUrl,
      SAFEROLL_DATA_URL: this.router.dataUrl,
      SAFEROLL_ADMIN_TOKEN: CHAOS_ADMIN_TOKEN,
    });
    this.runs.push(run);
    await waitFor(
      () =>
        run.output().includes('polling task queue') ? true : run.child.exitCode !== null ? Promise.reject(new Error(`worker exited: ${run.output()}`)) : false,
      60_000,
      'worker polling',
    );
    return run;
  }

  /** SIGKILL of every running worker: in-flight activities and workflow tasks are lost with them. */
  async kill9(): Promise<void> {
    const alive = this.runs.filter(isRunning);
    if (alive.length === 0) throw new Error('no worker is running');
    for (const run of alive) run.child.kill('SIGKILL');
    await Promise.all(alive.map((run) => run.exited));
  }

  /** SIGTERM to every running worker; a worker that is still up must exit 0. */
  async stop(): Promise<Array<{ code: number | null; signal: NodeJS.Signals | null }>> {
    const alive = this.runs.filter(isRunning);
    for (const run of alive) run.child.kill('SIGTERM');
    return Promise.all(alive.map((run) => run.exited));
  }

  output(): string {
    return this.runs.map((run, i) => `--- worker ${i + 1} ---\n${run.output()}`).join('\n');
  }
}

function isRunning(run: CliProcess): boolean {
  return run.child.exitCode === null && run.child.signalCode === null;
}
