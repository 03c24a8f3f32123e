// Upstreams in processes of their own: bench/lib/upstream-child.js, driven
// over IPC, and examples/model-server.mjs as users run it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, type TrackedChild } from './processes.js';
import { MODEL_SERVER } from './router-process.js';
import type { UpstreamMode } from './upstream.js';
import type { UpstreamCommand, UpstreamStats } from './upstream-child.js';

export interface UpstreamProcess {
  url: string;
  child: TrackedChild;
  /** Sends a command and resolves with the stats after it. */
  command(command: UpstreamCommand): Promise<UpstreamStats>;
  stop(): Promise<void>;
}

export async function startUpstreamProcess(name: string, mode: UpstreamMode): Promise<UpstreamProcess> {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'upstream-child.js');
  const { child, match } = await startChild(name, entry, [], {
    ipc: true,
    env: { ...process.env, BENCH_UPSTREAM_MODE: JSON.stringify(mode) },
    ready: /listening on (http:\/\/\S+)/,
    graceMs: 3_000,
    critical: true,
  });
  let queue: Promise<unknown> = Promise.resolve();
  const command = (cmd: UpstreamCommand): Promise<UpstreamStats> => {
    const next = queue.then(
      () =>
        new Promise<UpstreamStats>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${name} did not answer ${cmd.type}`)), 5_000);
          child.proc.once('message', (message: { stats: UpstreamStats }) => {
            clearTimeout(timer);
            resolve(message.stats);
          });
          child.proc.send(cmd);
        }),
    );
    queue = next.catch(() => undefined);
    return next;
  };
  return { url: match?.[1] ?? '', child, command, stop: () => child.stop(3_000) };
}

/** examples/model-server.mjs with no added latency and no errors: as fast as a Node upstream gets. */
export async function startModelServer(version: string, nodeFlags: string[] = []): Promise<{ child: TrackedChild; url: string }> {
  const { child, match } = await startChild(`upstream ${version}`, process.execPath, [...nodeFlags, MODEL_SERVER], {
    env: { ...process.env, PORT: '0', LATENCY_MS: '0', ERROR_RATE: '0', MODEL_VERSION: version },
    ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
  });
  return { child, url: match?.[1] ?? '' };
}
