// Runs wrk with a generated Lua script (POST, a small JSON body, the bearer
// key) whose done() prints one machine-readable line with the totals and
// the latency percentiles, so nothing depends on wrk's human output format.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startChild } from './processes.js';

export interface WrkRequest {
  method: 'GET' | 'POST';
  body?: string;
  headers: Record<string, string>;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerSecond: number;
  /** Socket errors (connect/read/write/timeout) and non-2xx/3xx answers. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

const RESULT_TAG = 'WRK_RESULT';

/** Writes the Lua script for `request` into `dir` and returns its path. */
export async function writeWrkScript(dir: string, name: string, request: WrkRequest): Promise<string> {
  const lines = [`wrk.method = ${luaString(request.method)}`];
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`);
  for (const [header, value] of Object.entries(request.headers)) lines.push(`wrk.headers[${luaString(header)}] = ${luaString(value)}`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format("${RESULT_TAG} %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.1f\\n",`,
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(99), latency.mean))',
    'end',
  );
  const file = path.join(dir, `${name}.lua`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

export interface WrkRun {
  url: string;
  script: string;
  connections: number;
  durationS: number;
  threads?: number;
  /** Called with wrk's pid once it runs (to sample its CPU time). */
  onStart?: (pid: number) => void;
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const args = ['-t', String(run.threads ?? 1), '-c', String(run.connections), '-d', `${run.durationS}s`, '--timeout', '10s', '-s', run.script, run.url];
  const { child } = await startChild('wrk', 'wrk', args);
  run.onStart?.(child.pid);
  const code = await child.exited;
  const out = child.output();
  const line = out.split('\n').find((l) => l.startsWith(RESULT_TAG));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${out}`);
  const [requests, durationUs, connect, read, write, status, timeout, p50Us, p99Us, meanUs] = line
    .slice(RESULT_TAG.length)
    .trim()
    .split(/\s+/)
    .map(Number) as number[];
  const durationS = (durationUs ?? 0) / 1e6;
  return {
    requests: requests ?? 0,
    durationS,
    requestsPerSecond: durationS > 0 ? (requests ?? 0) / durationS : 0,
    errors: { connect: connect ?? 0, read: read ?? 0, write: write ?? 0, status: status ?? 0, timeout: timeout ?? 0 },
    p50Ms: (p50Us ?? 0) / 1000,
    p99Ms: (p99Us ?? 0) / 1000,
    meanMs: (meanUs ?? 0) / 1000,
  };
}

export function errorCount(result: WrkResult): number {
  const e = result.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}

function luaString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
