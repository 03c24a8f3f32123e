// The Envoys the routing core runs itself (`--envoy-replicas N`): all on the
// same data port (SO_REUSEPORT: the kernel spreads connections over them),
// each with its own admin port, supervised: one that exits is started again
// with back-off (0.5 s doubling to 10 s) while the others carry the traffic.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { renderBootstrap } from './bootstrap.js';
import { EnvoyProcess } from './envoy-process.js';
import type { FleetNodes } from './fleet-nodes.js';

export interface EnvoyFleetOptions {
  binary: string;
  replicas: number;
  /** Bootstrap files and admin address files of the replicas. */
  dir: string;
  xdsUrl: string;
  host: string;
  port: number;
  upstreamTimeoutMs: number;
  concurrency?: number | undefined;
  readyTimeoutMs?: number | undefined;
  nodes: FleetNodes;
}

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;

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

  /** Starts every replica and resolves once all serve; on any failure stops those started and rejects. */
  static async start(options: EnvoyFleetOptions): Promise<EnvoyFleet> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const fleet = new EnvoyFleet(options);
    try {
      // One at a time: a port in use or a bad binary fails on the first, with nothing else started.
      for (let i = 0; i < options.replicas; i++) fleet.watch(i, await fleet.startReplica(i));
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** The running replicas (pid and admin URL), for tests and /v1/dataplane. */
  running(): Array<{ nodeId: string; pid: number | undefined; adminUrl: string }> {
    return this.replicas.flatMap((p, i) => (p?.running ? [{ nodeId: EnvoyFleet.nodeId(i), pid: p.pid, adminUrl: p.adminUrl }] : []));
  }

  isReplica(nodeId: string): boolean {
    return this.replicas.some((_p, i) => EnvoyFleet.nodeId(i) === nodeId);
  }

  /** The last output lines of the replica that runs as `nodeId`. */
  lastLines(nodeId: string): string[] {
    const index = this.replicas.findIndex((_p, i) => EnvoyFleet.nodeId(i) === nodeId);
    return this.replicas[index]?.lastLines() ?? [];
  }

  private async startReplica(index: number): Promise<EnvoyProcess> {
    const nodeId = EnvoyFleet.nodeId(index);
    const envoy = await EnvoyProcess.start({
      binary: this.options.binary,
      bootstrapFile: path.join(this.options.dir, `envoy-${index}.json`),
      adminAddressFile: path.join(this.options.dir, `envoy-${index}.admin`),
      bootstrap: renderBootstrap({
        nodeId,
        xdsUrl: this.options.xdsUrl,
        adminHost: '127.0.0.1',
        adminPort: 0,
        host: this.options.host,
        port: this.options.port,
        upstreamTimeoutMs: this.options.upstreamTimeoutMs,
      }),
      concurrency: this.options.concurrency,
      readyTimeoutMs: this.options.readyTimeoutMs ?? 30_000,
    });
    this.options.nodes.announce(nodeId, envoy.adminUrl);
    this.replicas[index] = envoy;
    return envoy;
  }

  private watch(index: number, envoy: EnvoyProcess, backoffMs = FIRST_BACKOFF_MS): void {
    void envoy.exited.then((code) => {
      if (this.stopping) return;
      console.warn(`saferoll router: Envoy replica ${index} (pid ${envoy.pid}) exited (code ${code}); starting it again in ${backoffMs} ms`);
      this.later(index, backoffMs);
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
        },
        (err: Error) => {
          console.warn(`saferoll router: Envoy replica ${index} did not start again: ${err.message}`);
          this.later(index, Math.min(backoffMs * 2, MAX_BACKOFF_MS));
        },
      );
    }, backoffMs);
    this.timers.add(timer);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.replicas.map((envoy) => envoy?.stop()));
  }
}
