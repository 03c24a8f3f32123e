// The Envoys the routing core runs itself (`--envoy-replicas N`): all on the
// same data port (SO_REUSEPORT: the kernel spreads connections over them),
// each with its own admin port, supervised: one that exits is started again
// with back-off (0.5 s doubling to 10 s) while the others carry the traffic.
// They are recorded in the state dir, so a router restarted after a crash
// takes back those still serving instead of starting others: a crash of the
// routing core never drops a connection.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { renderBootstrap } from './bootstrap.js';
import { EnvoyProcess, type EnvoyRecord } from './envoy-process.js';
import type { FleetNodes } from './fleet-nodes.js';

export interface EnvoyFleetOptions {
  binary: string;
  replicas: number;
  /** Bootstrap, log and admin address files of the replicas, and their records. */
  dir: string;
  xdsUrl: string;
  host: string;
  port: number;
  upstreamTimeoutMs: number;
  marker: string;
  concurrency?: number | undefined;
  readyTimeoutMs?: number | undefined;
  nodes: FleetNodes;
  /** Refuses a data port another program holds; skipped when replicas were taken back (they hold it). */
  checkPort: () => Promise<void>;
}

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;
const RECORDS_FILE = 'replicas.json';

export class EnvoyFleet {
  private readonly replicas: Array<EnvoyProcess | undefined> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** How many times a replica was started again after it exited. */
  restarts = 0;

  private constructor(private readonly options: EnvoyFleetOptions) {}

  static nodeId(index: number): string {
    return `${hostname()}-saferoll-${index}`;
  }

  /**
   * Takes back the replicas a previous run left serving (same bootstrap,
   * provably ours), starts the others, and resolves once all serve; on any
   * failure stops those this run started and rejects.
   */
  static async start(options: EnvoyFleetOptions): Promise<EnvoyFleet> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const fleet = new EnvoyFleet(options);
    const records = await fleet.readRecords();
    try {
      for (let i = 0; i < options.replicas; i++) {
        const record = records[i];
        const adopted = record ? await EnvoyProcess.adopt(record, options.marker, await fleet.sameBootstrap(i)) : undefined;
        if (!adopted) continue;
        options.nodes.announce(EnvoyFleet.nodeId(i), adopted.adminUrl);
        fleet.replicas[i] = adopted;
        console.log(`saferoll router: took back Envoy replica ${i} (pid ${adopted.pid}), still serving`);
      }
      // The data port is ours to share only with our own Envoys.
      if (fleet.replicas.every((p) => p === undefined)) await options.checkPort();
      // One at a time: a bad binary or bootstrap fails on the first, with nothing else started.
      for (let i = 0; i < options.replicas; i++) {
        if (!fleet.replicas[i]) await fleet.startReplica(i);
        fleet.watch(i, fleet.replicas[i] as EnvoyProcess);
      }
      // Replicas beyond the number asked for now.
      for (const record of records.slice(options.replicas)) if (record) await (await EnvoyProcess.adopt(record, options.marker, true))?.stop();
      await fleet.saveRecords();
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** The running replicas (pid and admin URL), for tests and /v1/dataplane. */
  running(): Array<{ nodeId: string; pid: number; adminUrl: string; adopted: boolean }> {
    return this.replicas.flatMap((p, i) => (p?.running ? [{ nodeId: EnvoyFleet.nodeId(i), pid: p.pid, adminUrl: p.adminUrl, adopted: p.adopted }] : []));
  }

  isReplica(nodeId: string): boolean {
    return this.replicas.some((_p, i) => EnvoyFleet.nodeId(i) === nodeId);
  }

  /** The last output lines of the replica that runs as `nodeId`. */
  async lastLines(nodeId: string): Promise<string[]> {
    const index = this.replicas.findIndex((_p, i) => EnvoyFleet.nodeId(i) === nodeId);
    return (await this.replicas[index]?.lastLines()) ?? [];
  }

  private file(index: number, suffix: string): string {
    return path.join(this.options.dir, `envoy-${index}.${suffix}`);
  }

  private bootstrapText(index: number): string {
    const bootstrap = renderBootstrap({
      nodeId: EnvoyFleet.nodeId(index),
      xdsUrl: this.options.xdsUrl,
      adminHost: '127.0.0.1',
      adminPort: 0,
      host: this.options.host,
      port: this.options.port,
      upstreamTimeoutMs: this.options.upstreamTimeoutMs,
    });
    return `${JSON.stringify(bootstrap, null, 1)}\n`;
  }

  private async sameBootstrap(index: number): Promise<boolean> {
    const running = await readFile(this.file(index, 'json'), 'utf8').catch(() => '');
    return running === this.bootstrapText(index);
  }

  private async readRecords(): Promise<Array<EnvoyRecord | undefined>> {
    try {
      const parsed = JSON.parse(await readFile(path.join(this.options.dir, RECORDS_FILE), 'utf8')) as unknown;
      return Array.isArray(parsed) ? (parsed as Array<EnvoyRecord | undefined>) : [];
    } catch {
      return [];
    }
  }

  private async saveRecords(): Promise<void> {
    const records = this.replicas.map((p) => (p?.running ? (p.record() ?? null) : null));
    await writeFile(path.join(this.options.dir, RECORDS_FILE), JSON.stringify(records), { mode: 0o600 }).catch(() => undefined);
  }

  private async startReplica(index: number): Promise<EnvoyProcess> {
    const envoy = await EnvoyProcess.start({
      binary: this.options.binary,
      bootstrapFile: this.file(index, 'json'),
      bootstrapText: this.bootstrapText(index),
      adminAddressFile: this.file(index, 'admin'),
      logFile: this.file(index, 'log'),
      marker: this.options.marker,
      concurrency: this.options.concurrency,
      readyTimeoutMs: this.options.readyTimeoutMs ?? 30_000,
    });
    this.options.nodes.announce(EnvoyFleet.nodeId(index), envoy.adminUrl);
    this.replicas[index] = envoy;
    return envoy;
  }

  private watch(index: number, envoy: EnvoyProcess): void {
    void envoy.exited.then((how) => {
      if (this.stopping) return;
      console.warn(`saferoll router: Envoy replica ${index} (pid ${envoy.pid}) ${how}; starting it again in ${FIRST_BACKOFF_MS} ms`);
      this.later(index, FIRST_BACKOFF_MS);
    });
  }

  private later(index: number, backoffMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopping) return;
      this.startReplica(index).then(
        (envoy) => {
          this.restarts++;
          this.watch(index, envoy);
          void this.saveRecords();
        },
        (err: Error) => {
          console.warn(`saferoll router: Envoy replica ${index} did not start again: ${err.message}`);
          this.later(index, Math.min(backoffMs * 2, MAX_BACKOFF_MS));
        },
      );
    }, backoffMs);
    this.timers.add(timer);
  }

  /** Stops every replica (the router is shutting down, or did not start), after draining in-flight requests for at most `drainMs`. */
  async stop(drainMs = 0): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(
      this.replicas.map(async (envoy) => {
        if (drainMs > 0) await envoy?.drain(drainMs);
        await envoy?.stop();
      }),
    );
    await this.saveRecords();
  }
}
