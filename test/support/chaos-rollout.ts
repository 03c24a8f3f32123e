// One rollout under fault injection: its endpoint (blue at 100%), steady
// client load, the workflow handle, and the checks every chaos case ends
// with (the true outcome, a clean final state, no instance left running).
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Policy } from '../../policies/types.js';
import { startRollout } from '../../cli/start-rollout.js';
import { promoteUpdate, statusQuery } from '../../workflows/messages.js';
import type { rolloutWorkflow } from '../../workflows/rollout.js';
import type { GreenSpec, RolloutResult, RolloutStatus } from '../../workflows/types.js';
import { endpointWithBlue } from './chaos-rollouts.js';
import { finalStateOf, instancePids, isAlive, type FinalState, type RolloutSides } from './final-state.js';
import { startLoad, type Load, type LoadReport } from './load.js';
import type { RouterProcess } from './router-process.js';
import { resultAcrossOutages } from './temporal-process.js';
import { waitFor } from './wait-for.js';

/** Light, steady load: two clients per endpoint, so a few endpoints fit on a 2-core machine. */
const LOAD_CLIENTS = 2;
const LOAD_PAUSE_MS = 20;

export class ChaosRollout {
  load: Load | undefined;
  handle: WorkflowHandle<typeof rolloutWorkflow> | undefined;
  /** Every instance pid seen, by deployment, to prove that none outlives its deployment. */
  private readonly pids = new Map<string, Set<number>>();

  private constructor(
    readonly router: RouterProcess,
    readonly sides: RolloutSides,
  ) {}

  /** Creates the endpoint with blue (a model server unless given) at 100%, and starts client load on it; green is named "green". */
  static async prepare(router: RouterProcess, endpoint: string, options: { blue?: GreenSpec } = {}): Promise<ChaosRollout> {
    const keys = await endpointWithBlue(router.admin, endpoint, options.blue);
    const rollout = new ChaosRollout(router, { endpoint, blue: options.blue?.name ?? 'blue', green: 'green', keys });
    rollout.startLoad();
    await rollout.notePids();
    return rollout;
  }

  get endpoint(): string {
    return this.sides.endpoint;
  }

  startLoad(): void {
    this.load = startLoad(this.router.dataUrl, this.endpoint, this.sides.keys.primaryKey, LOAD_CLIENTS, LOAD_PAUSE_MS);
  }

  async stopLoad(): Promise<LoadReport> {
    const report = await this.load?.stop();
    this.load = undefined;
    return report ?? { sent: 0, failed: 0, byStatus: {}, byDeployment: {}, failures: [] };
  }

  async start(client: Client, taskQueue: string, green: GreenSpec, policy: Policy): Promise<void> {
    if (green.name !== this.sides.green) throw new Error(`green is "${this.sides.green}" for this rollout`);
    this.handle = await startRollout(client, { endpoint: this.endpoint, policy, green }, { taskQueue });
  }

  /** The workflow's status query (answered by a worker). */
  status(): Promise<RolloutStatus> {
    if (!this.handle) throw new Error('not started');
    return this.handle.query(statusQuery);
  }

  /** Waits until the status satisfies `ready`, noting instance pids on the way. */
  async reach(what: string, ready: (status: RolloutStatus) => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<RolloutStatus> {
    return waitFor(
      async () => {
        const status = await this.status();
        if (!(await ready(status))) return undefined;
        await this.notePids();
        return status;
      },
      timeoutMs,
      `${this.endpoint}: ${what}`,
    );
  }

  /** The attempt number of the workflow's pending `activity` (0 when none is pending). */
  async pendingAttempt(activity: string): Promise<number> {
    if (!this.handle) throw new Error('not started');
    const { raw } = await this.handle.describe();
    const pending = raw.pendingActivities?.find((a) => a.activityType?.name === activity);
    return pending?.attempt ?? 0;
  }

  /** Ends the current bake now (an operator's promote), once its gate passes. */
  async promote(): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new Error('not started');
    await waitFor(() => handle.executeUpdate(promoteUpdate, { args: [{}] }).then(() => true), 30_000, `${this.endpoint}: promote accepted`);
  }

  async result(timeoutMs = 150_000): Promise<RolloutResult> {
    if (!this.handle) throw new Error('not started');
    return resultAcrossOutages(this.handle, timeoutMs);
  }

  /** Records the current instance pids of the endpoint's deployments. */
  async notePids(): Promise<void> {
    for (const [deployment, pids] of await instancePids(this.router.admin, this.endpoint)) {
      const seen = this.pids.get(deployment) ?? new Set<number>();
      for (const pid of pids) seen.add(pid);
      this.pids.set(deployment, seen);
    }
  }

  /**
   * The endpoint is in the clean final state that matches `outcome`, and no
   * instance of the deployment that lost, nor any replaced instance of the
   * winner, is still running.
   */
  async expectFinal(outcome: FinalState): Promise<void> {
    const state = await finalStateOf(this.router, this.sides);
    if (state !== outcome) throw new Error(`${this.endpoint} ended ${state}, expected ${outcome}`);
    const winner = outcome === 'promoted' ? this.sides.green : this.sides.blue;
    const serving = new Set((await instancePids(this.router.admin, this.endpoint)).get(winner) ?? []);
    const leftovers = [...this.pids].flatMap(([deployment, pids]) => [...pids].filter((pid) => !serving.has(pid)).map((pid) => `${deployment}:${pid}`));
    await waitFor(
      () => leftovers.every((entry) => !isAlive(Number(entry.split(':')[1]))),
      10_000,
      `${this.endpoint}: no instance left running (${leftovers.join(', ')})`,
    );
  }
}
