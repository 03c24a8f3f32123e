// A Temporal dev server of a chaos test's own (not the run's shared one),
// persisted to a database file, so the test can kill -9 it and start it again
// on the same port and file with every workflow, timer and task still there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { rolloutResult, type RolloutHandle } from '../../cli/follow-rollout.js';
import { startTemporalDevServer, type DevServer } from '../../cli/temporal-dev-server.js';
import { freePort } from '../../shared/free-port.js';
import type { RolloutResult } from '../../workflows/types.js';

export class TemporalProcess {
  private server: DevServer | undefined;
  private connection: Connection | undefined;
  private lastLog = '';

  private constructor(
    readonly port: number,
    readonly dbFile: string,
  ) {}

  static async start(): Promise<TemporalProcess> {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-chaos-temporal-'));
    const temporal = new TemporalProcess(await freePort(), path.join(dir, 'temporal.db'));
    await temporal.restart();
    return temporal;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server on the same port and database file; resolves once it is healthy. */
  async restart(): Promise<void> {
    if (this.server && this.server.child.exitCode === null && this.server.child.signalCode === null) throw new Error('Temporal is still running');
    this.server = await startTemporalDevServer({ port: this.port, dbFile: this.dbFile, headless: true, onLog: (line) => (this.lastLog = line) });
  }

  /** SIGKILL of the server process: no shutdown, the database as the kill left it. */
  async kill9(): Promise<void> {
    const child = this.server?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error('Temporal is not running');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** A client on this server; its connection reconnects by itself after a restart. */
  async client(): Promise<Client> {
    this.connection ??= await Connection.connect({ address: this.address });
    return new Client({ connection: this.connection });
  }

  async stop(): Promise<void> {
    await this.connection?.close();
    await this.server?.stop();
    await rm(path.dirname(this.dbFile), { recursive: true, force: true });
  }

  log(): string {
    return this.lastLog;
  }
}

/**
 * The rollout's result, asking again while the server is unreachable: the
 * long poll behind `result()` fails when the server dies, the workflow does not.
 */
export async function resultAcrossOutages(handle: WorkflowHandle, timeoutMs: number): Promise<RolloutResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await rolloutResult(handle as RolloutHandle);
    } catch (err) {
      if (Date.now() > deadline || !isUnavailable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function isUnavailable(err: unknown): boolean {
  const text = `${(err as Error).name} ${(err as Error).message}`;
  return /UNAVAILABLE|ServiceError|connect|ECONNREFUSED|deadline/i.test(text);
}
