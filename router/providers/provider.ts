// How a deployment gets its instances. One small interface, one file per
// implementation (upstreams.ts: URLs that already run; process.ts: commands
// the router starts), and createProvider() in index.ts picks one.

export type InstanceState = 'starting' | 'ready' | 'unhealthy' | 'crashed' | 'stopped';

export interface InstanceView {
  /** Stable within a deployment: "0", "1", ... */
  readonly id: string;
  /** Base URL the data plane proxies to, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly state: InstanceState;
  readonly healthy: boolean;
  readonly restarts: number;
  readonly pid?: number | undefined;
  /** Why the instance is not ready, when it is not. */
  readonly reason?: string | undefined;
}

/** What must be persisted so a restarted router can re-adopt running instances. */
export interface InstanceRecord {
  readonly id: string;
  readonly port: number;
  readonly pid: number;
  /**
   * When `pid` started (clock ticks since boot, /proc/<pid>/stat): a process is
   * re-adopted only if it still matches. Absent in records of older saferolls.
   */
  readonly startTime?: number | undefined;
  readonly logFile: string;
}

export interface DeploymentProvider {
  readonly kind: 'upstreams' | 'process';
  /**
   * Brings the deployment to `count` instances and resolves once all of them
   * are ready. Rejects with a ProvisioningError (reason + last output lines)
   * when an instance cannot become ready.
   */
  scale(count: number): Promise<void>;
  /** All instances, ready or not, in id order. */
  instances(): readonly InstanceView[];
  /** URLs of the ready instances, the set the data plane picks from. */
  readyUrls(): readonly string[];
  /** The last `lines` lines of output of every instance, oldest first. */
  logs(lines: number): Promise<string[]>;
  /** What to persist to re-adopt the instances after a router restart. */
  records(): InstanceRecord[];
  /** Called whenever the set of ready instances or the records change. */
  onChange(listener: () => void): void;
  /** Stops every instance: SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
  /**
   * Leaves the instances running (router shutting down, they will be
   * re-adopted on restart) and drops timers and listeners.
   */
  detach(): void;
}
