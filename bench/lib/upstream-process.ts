// Starts bench/lib/upstream-child.js and drives it over IPC.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, type TrackedChild } from './processes.js';
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
