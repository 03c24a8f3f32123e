// A routing core run as its own `saferoll router` process on fixed loopback
// ports, so a chaos test can kill -9 it and start it again on the same ports
// and state dir, as an operator's supervisor would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { AdminClient } from '../../router/client.js';
import { freePort } from '../../shared/free-port.js';
import { spawnCli, type CliProcess } from './cli.js';
import { callDataPlane, type CallInit, type CallResult } from './router.js';
import { waitFor } from './wait-for.js';

export const CHAOS_ADMIN_TOKEN = 'chaos-admin-token';

export class RouterProcess {
  /** Every process this router ran, oldest first (their output helps when a test fails). */
  readonly runs: CliProcess[] = [];
  readonly admin: AdminClient;
  private readonly agent = new Agent({ connections: 32 });

  private constructor(
    readonly stateDir: string,
    readonly port: number,
    readonly adminPort: number,
    /** A temp dir of its own, removed by stop(). */
    private readonly ownsStateDir: boolean,
    /** More `saferoll router` flags, the same for every run (e.g. `--data-plane envoy`). */
    private readonly extraArgs: readonly string[] = [],
  ) {
    this.admin = new AdminClient({ adminUrl: this.adminUrl, token: CHAOS_ADMIN_TOKEN, timeoutMs: 10_000 });
  }

  /** Starts a router on two free ports, on `stateDir` or a fresh temp dir. */
  static async start(stateDir?: string, extraArgs: readonly string[] = []): Promise<RouterProcess> {
    const dir = stateDir ?? (await mkdtemp(path.join(tmpdir(), 'saferoll-chaos-')));
    const router = new RouterProcess(dir, await freePort(), await freePort(), stateDir === undefined, extraArgs);
    await router.restart();
    return router;
  }

  get dataUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  get current(): CliProcess | undefined {
    return this.runs.at(-1);
  }

  get running(): boolean {
    const run = this.current;
    return run !== undefined && run.child.exitCode === null && run.child.signalCode === null;
  }

  /** Starts a router process on the same ports and state dir; resolves once it serves. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('the router is still running');
    const run = spawnCli(['router', '--port', String(this.port), '--admin-port', String(this.adminPort), '--state-dir', this.stateDir, ...this.extraArgs], {
      SAFEROLL_ADMIN_TOKEN: CHAOS_ADMIN_TOKEN,
    });
    this.runs.push(run);
    await waitFor(
      () =>
        run.output().includes('data plane http') ? true : run.child.exitCode !== null ? Promise.reject(new Error(`router exited: ${run.output()}`)) : false,
      30_000,
      `router on :${this.port} started`,
    );
  }

  /** SIGKILL: no drain, no cleanup, instances left running for the next process to re-adopt. */
  async kill9(): Promise<void> {
    const run = this.current;
    if (!run || !this.running) throw new Error('the router is not running');
    run.child.kill('SIGKILL');
    await run.exited;
  }

  /** Stops it for good (SIGTERM: drains and stops its instances); restarts it first if it is down, so no instance outlives the test. */
  async stop(): Promise<void> {
    if (!this.running) await this.restart().catch(() => undefined);
    const run = this.current;
    if (run && this.running) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    await this.admin.close();
    await this.agent.close();
    if (this.ownsStateDir) await rm(this.stateDir, { recursive: true, force: true });
  }

  call(endpoint: string, init?: CallInit): Promise<CallResult> {
    return callDataPlane(this.dataUrl, this.agent, endpoint, init);
  }

  output(): string {
    return this.runs.map((run, i) => `--- router run ${i + 1} ---\n${run.output()}`).join('\n');
  }
}
