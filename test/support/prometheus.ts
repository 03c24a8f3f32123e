// A real Prometheus process for tests: Debian's /usr/bin/prometheus
// (scripts/install-prometheus.sh) with the configuration `saferoll dev
// --prometheus` writes, on a free loopback port, its database in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { PROMETHEUS_BIN, checkPrometheusInstalled, prometheusArgs, writePrometheusFiles } from '../../cli/prometheus-config.js';
import { freePort } from '../../shared/free-port.js';
import { waitFor } from './wait-for.js';

/** One target as `GET /api/v1/targets` shows it. */
export interface ActiveTarget {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface TestPrometheus {
  url: string;
  /** Its output so far, for failure messages. */
  output(): string;
  activeTargets(): Promise<ActiveTarget[]>;
  /** An instant query's vector: labels and value of each series. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  close(): Promise<void>;
}

/** Starts Prometheus discovering its targets from the router at `adminUrl`; resolves once it is ready. */
export async function startPrometheus(adminUrl: string, adminToken: string): Promise<TestPrometheus> {
  await checkPrometheusInstalled();
  const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-prometheus-'));
  const files = await writePrometheusFiles(dir, adminUrl, adminToken);
  const port = await freePort();
  const child = spawn(PROMETHEUS_BIN, prometheusArgs(files, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const get = async <T>(pathAndQuery: string): Promise<T> => {
    const answer = await request(`${url}${pathAndQuery}`);
    const body = (await answer.body.json()) as { status: string; data: T; error?: string };
    if (answer.statusCode !== 200 || body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${answer.statusCode} ${body.error ?? ''}`);
    return body.data;
  };
  const prometheus: TestPrometheus = {
    url,
    output: () => output,
    activeTargets: async () => (await get<{ activeTargets: ActiveTarget[] }>('/api/v1/targets?state=active')).activeTargets,
    query: async (promql) => {
      const data = await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    close: async () => {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${output.slice(-2000)}`);
        const answer = await request(`${url}/-/ready`);
        await answer.body.dump();
        return answer.statusCode === 200;
      },
      30_000,
      'prometheus ready',
    );
  } catch (err) {
    await prometheus.close();
    throw err;
  }
  return prometheus;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
