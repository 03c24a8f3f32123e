// The controller side of a bench: a real Temporal dev server, a client, and
// the saferoll worker (createRolloutWorker) in a child process of its own
// (bench/lib/worker-child.ts) on a task queue of this run, so the worker's
// CPU and memory are its own and the load generator's timers are not
// delayed by workflow activations.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startTemporalDevServer, type DevServer } from '../../cli/temporal-dev-server.js';
import type { Policy, PolicyStep } from '../../policies/types.js';
import { statusQuery } from '../../workflows/messages.js';
import type { rolloutWorkflow } from '../../workflows/rollout.js';
import type { RolloutStatus } from '../../workflows/types.js';
import { log } from './log.js';
import { failBench, onCleanup, startChild, type TrackedChild } from './processes.js';
import type { RouterProcess } from './router-process.js';
import type { WorkerChildConfig, WorkerChildMessage, WorkerStats } from './worker-child.js';

export async function startDevServer(): Promise<DevServer> {
  const started = Date.now();
  const server = await startTemporalDevServer({ headless: true });
  let stopping = false;
  onCleanup('temporal dev server', () => {
    stopping = true;
    return server.stop();
  });
  server.child.once('exit', (code, signal) => {
    if (!stopping) failBench(new Error(`the Temporal dev server exited unexpectedly (${code ?? signal})`));
  });
  log(`temporal dev server on ${server.address} (pid ${server.child.pid}) in ${Date.now() - started} ms`);
  return server;
}

export async function connectClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  onCleanup('temporal client', () => connection.close());
  return new Client({ connection, namespace: 'default' });
}

export interface WorkerProcess {
  child: TrackedChild;
  taskQueue: string;
  /** Milliseconds from spawn to polling (includes bundling the workflow code). */
  startMs: number;
  stats(): Promise<WorkerStats>;
  /** Starts a new peak-RSS measurement. */
  resetPeak(): void;
  stop(): Promise<void>;
}

/** Starts bench/lib/worker-child.js: the real rollout worker, reporting its rss over IPC. */
export async function startWorkerProcess(temporalAddress: string, router: RouterProcess, taskQueue: string): Promise<WorkerProcess> {
  const started = Date.now();
  const config: WorkerChildConfig = {
    temporalAddress,
    namespace: 'default',
    taskQueue,
    routerAdminUrl: router.adminUrl,
    routerDataUrl: router.dataUrl,
    adminToken: router.token,
  };
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-child.js');
  const { child } = await startChild('worker', entry, [], {
    ipc: true,
    env: { ...process.env, BENCH_WORKER_CONFIG: JSON.stringify(config) },
    ready: /bench worker: polling/,
    readyTimeoutMs: 120_000,
    graceMs: 15_000,
    critical: true,
  });
  const startMs = Date.now() - started;
  log(`worker pid ${child.pid} polling ${taskQueue} after ${startMs} ms (bundling included)`);
  const stats = (): Promise<WorkerStats> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer a stats request within 5 s')), 5_000);
      const onMessage = (message: WorkerChildMessage): void => {
        if (message.type !== 'stats') return;
        clearTimeout(timer);
        child.proc.off('message', onMessage);
        resolve(message.stats);
      };
      child.proc.on('message', onMessage);
      child.proc.send({ type: 'stats' });
    });
  return { child, taskQueue, startMs, stats, resetPeak: () => child.proc.send({ type: 'resetPeak' }), stop: () => child.stop(15_000) };
}

export function queryStatus(handle: WorkflowHandle<typeof rolloutWorkflow>): Promise<RolloutStatus> {
  return handle.query(statusQuery);
}

/** Polls the status query until `until` holds (or the deadline passes). */
export async function waitForStatus(
  handle: WorkflowHandle<typeof rolloutWorkflow>,
  until: (status: RolloutStatus) => boolean,
  what: string,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<RolloutStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await queryStatus(handle);
    if (until(status)) return status;
    if (status.phase === 'RolledBack' || status.phase === 'Promoted') {
      const last = status.decisions
        .slice(-3)
        .map((d) => d.message)
        .join(' | ');
      throw new Error(`${what}: the rollout ended (${status.phase}) first: ${last}`);
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached within ${timeoutMs} ms (phase ${status.phase}, last gate ${status.lastGate?.summary ?? 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A bench policy: absolute SLOs, a gate interval, and the steps given. */
export function benchPolicy(
  name: string,
  steps: PolicyStep[],
  options: { minRequests: number; intervalMs: number; p95Ms?: number; errorRate?: number },
): Policy {
  return {
    name,
    slo: { latency: { p95Ms: options.p95Ms ?? 250 }, errorRate: options.errorRate ?? 0.01, minRequests: options.minRequests },
    baseline: {},
    analysis: { intervalMs: options.intervalMs },
    steps,
    onFailure: { keepGreen: false },
  };
}

export const SMOKE_STEP: PolicyStep = {
  kind: 'smoke',
  requests: 2,
  path: '/score',
  method: 'POST',
  body: { x: 1 },
  headers: {},
  expectStatus: 200,
  timeoutMs: 5_000,
};

/** Epoch ms of a protobuf Timestamp. */
export function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return Number.NaN;
  const s = ts.seconds;
  const seconds = typeof s === 'number' ? s : s === undefined || s === null ? 0 : Number(String(s));
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

export interface ActivityTiming {
  name: string;
  /** Scheduled by the workflow -> picked up by the worker (queue wait). */
  queueMs: number;
  /** Picked up -> completion recorded by the server (execution + report). */
  runMs: number;
  /** Scheduled -> completed. */
  totalMs: number;
}

/** Activity timings from a workflow's history (server event times), all runs of it. */
export async function activityTimings(handle: WorkflowHandle): Promise<ActivityTiming[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, { name: string; at: number }>();
  const startedAt = new Map<string, number>();
  const out: ActivityTiming[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const at = timestampMs(event.eventTime);
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(id, { name: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    } else if (event.activityTaskStartedEventAttributes) {
      startedAt.set(String(event.activityTaskStartedEventAttributes.scheduledEventId), at);
    } else if (event.activityTaskCompletedEventAttributes) {
      const key = String(event.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = scheduled.get(key);
      const st = startedAt.get(key);
      if (s && st !== undefined) out.push({ name: s.name, queueMs: st - s.at, runMs: at - st, totalMs: at - s.at });
    }
  }
  return out;
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
