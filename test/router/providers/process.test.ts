// The process provider against real children: examples/model-server.mjs
// started on free ports, crashed, stopped, and re-adopted by a new provider.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcessProvider } from '../../../router/providers/process.js';
import type { ProcessProviderOptions } from '../../../router/providers/process.js';
import { SaferollError } from '../../../shared/errors.js';
import { waitFor } from '../../support/wait-for.js';

const MODEL_SERVER = fileURLToPath(new URL('../../../examples/model-server.mjs', import.meta.url));

let logDir = '';
const providers: ProcessProvider[] = [];
const strays: number[] = [];

beforeEach(() => {
  logDir = mkdtempSync(join(tmpdir(), 'saferoll-process-'));
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.stop()));
  for (const pid of strays.splice(0)) signal(-pid, 'SIGKILL');
  rmSync(logDir, { recursive: true, force: true });
});

function modelServers(env: Record<string, string> = {}, options: Partial<ProcessProviderOptions> = {}): ProcessProvider {
  const provider = new ProcessProvider({
    deploymentKey: 'ep/green',
    spec: { command: process.execPath, args: [MODEL_SERVER], env, readinessPath: '/healthz' },
    logDir,
    readinessTimeoutMs: 15_000,
    stopGraceMs: 2_000,
    ...options,
  });
  providers.push(provider);
  return provider;
}

/** A command that is not the model server, run through node -e. */
function inlineNode(script: string, options: Partial<ProcessProviderOptions> = {}): ProcessProvider {
  return modelServers({}, { spec: { command: process.execPath, args: ['-e', script], env: {}, readinessPath: '/healthz' }, ...options });
}

async function score(url: string): Promise<{ status: number; body: { score?: number; version: string; pid: number } }> {
  const res = await request(`${url}/score`, { method: 'POST', body: 'hello' });
  return { status: res.statusCode, body: (await res.body.json()) as { score?: number; version: string; pid: number } };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function pids(provider: ProcessProvider): number[] {
  return provider.instances().map((inst) => inst.pid ?? -1);
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** A process of our own in its own group, to play a leftover or an unrelated program. */
function startStray(command: string, args: string[]): number {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  strays.push(child.pid);
  return child.pid;
}

async function provisioningError(promise: Promise<unknown>): Promise<SaferollError> {
  const err: unknown = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SaferollError);
  const saferoll = err as SaferollError;
  expect(saferoll.code).toBe('SAFEROLL_E_PROVISIONING');
  return saferoll;
}

describe('ProcessProvider', () => {
  it('starts N instances on their own loopback ports, and each answers', async () => {
    const provider = modelServers({ MODEL_VERSION: 'v2' });
    await provider.scale(3);

    const instances = provider.instances();
    expect(instances.map((inst) => [inst.id, inst.state, inst.healthy])).toEqual([
      ['0', 'ready', true],
      ['1', 'ready', true],
      ['2', 'ready', true],
    ]);
    const urls = provider.readyUrls();
    expect(new Set(urls).size).toBe(3);
    for (const [i, url] of urls.entries()) {
      const { status, body } = await score(url);
      expect(status).toBe(200);
      expect(body).toMatchObject({ version: 'v2', pid: instances[i]?.pid });
    }
    expect(provider.records().map((record) => record.id)).toEqual(['0', '1', '2']);
  });

  it('rejects scale() with the reason and the last output lines when readiness times out', async () => {
    // Long enough for node to start even on a loaded machine, so the output has a line.
    const provider = modelServers({ READY_DELAY_MS: '60000' }, { readinessTimeoutMs: 4_000 });
    const err = await provisioningError(provider.scale(1));

    expect(err.message).toContain('ep/green instance 0 did not become ready');
    expect(err.message).toMatch(/timed out after 4000 ms waiting for GET \/healthz to answer 2xx \(last: answered 503\)/);
    expect(err.message).toContain('model-server v1 listening');
    const [inst] = provider.instances();
    expect(inst?.state).toBe('crashed');
    expect(inst?.reason).toMatch(/timed out/);
    expect(provider.readyUrls()).toEqual([]);
  });

  it('fails at once, with the exit code and the output, when the command exits before it is ready', async () => {
    // readinessTimeoutMs far beyond the test timeout: only an early failure passes.
    const provider = inlineNode('console.log("cannot load the model"); process.exit(3)', { readinessTimeoutMs: 120_000 });
    const err = await provisioningError(provider.scale(1));

    expect(err.message).toContain('exited with code 3 before becoming ready');
    expect(err.message).toContain('cannot load the model');
    expect(provider.instances()[0]?.state).toBe('crashed');
    expect(provider.readyUrls()).toEqual([]);
  }, 20_000);

  it('retries an instance that failed to provision on the next scale()', async () => {
    const provider = inlineNode('process.exit(2)');
    await provisioningError(provider.scale(1));
    const err = await provisioningError(provider.scale(1));
    expect(err.message).toContain('exited with code 2');
    expect(provider.instances().map((inst) => inst.id)).toEqual(['0']);
  });

  it('restarts a crashed instance under the same id, and tells listeners', async () => {
    const provider = modelServers({ CRASH_AFTER_REQUESTS: '1' });
    await provider.scale(1);
    let changes = 0;
    provider.onChange(() => (changes += 1));
    const [before] = provider.instances();
    if (before?.pid === undefined) throw new Error('no pid');

    expect((await score(before.url)).status).toBe(200);
    const after = await waitFor(() => {
      const inst = provider.instances()[0];
      return inst?.state === 'ready' && inst.pid !== before.pid ? inst : undefined;
    }, 15_000, 'a restarted instance');

    expect(after.id).toBe('0');
    expect(after.restarts).toBe(1);
    expect(changes).toBeGreaterThan(0);
    expect(provider.records()[0]?.pid).toBe(after.pid);
    expect((await score(after.url)).body.pid).toBe(after.pid);
    expect(await provider.logs(50)).toContainEqual(expect.stringMatching(/^\[0\] --- saferoll: restart 1 of instance 0 after: exited with code 1/));
  });

  it('takes an instance that stops answering out of the ready set, and back when it answers again', async () => {
    const provider = modelServers({}, { healthProbeIntervalMs: 100 });
    await provider.scale(1);
    const pid = provider.instances()[0]?.pid ?? -1;

    signal(pid, 'SIGSTOP');
    try {
      const inst = await waitFor(() => provider.instances().find((i) => i.state === 'unhealthy'), 20_000, 'unhealthy');
      expect(inst.reason).toMatch(/readiness failed 3 times in a row/);
      expect(provider.readyUrls()).toEqual([]);
    } finally {
      signal(pid, 'SIGCONT');
    }
    await waitFor(() => provider.readyUrls().length === 1, 20_000, 'ready again');
    expect(provider.instances()[0]?.pid).toBe(pid);
  });

  it('restarts an instance that stays silent (hung), as a crash', async () => {
    const provider = modelServers({}, { healthProbeIntervalMs: 50 });
    await provider.scale(1);
    const pid = provider.instances()[0]?.pid ?? -1;
    signal(pid, 'SIGSTOP'); // hung: alive, but answers nothing
    try {
      const restarted = await waitFor(() => provider.instances().find((i) => i.state === 'ready' && i.pid !== pid), 50_000, 'a new process ready');
      expect(restarted.restarts).toBe(1);
      expect(alive(pid)).toBe(false);
    } finally {
      signal(pid, 'SIGCONT');
    }
  }, 60_000);

  it('scales up and down, stopping the highest ids', async () => {
    const provider = modelServers();
    let changes = 0;
    provider.onChange(() => (changes += 1));
    await provider.scale(1);
    const [first] = pids(provider);
    await provider.scale(3);
    expect(provider.instances().map((inst) => inst.id)).toEqual(['0', '1', '2']);
    expect(pids(provider)[0]).toBe(first);
    const removed = pids(provider).slice(1);

    changes = 0;
    await provider.scale(1);
    expect(changes).toBeGreaterThan(0);
    expect(provider.instances().map((inst) => inst.id)).toEqual(['0']);
    expect(provider.readyUrls()).toHaveLength(1);
    for (const pid of removed) expect(alive(pid)).toBe(false);
    expect((await score(provider.readyUrls()[0] ?? '')).body.pid).toBe(first);
  });

  it('refuses an instance count that is not a whole number of at least 1', async () => {
    const provider = modelServers();
    for (const count of [0, -1, 1.5]) {
      await expect(provider.scale(count)).rejects.toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'instanceCount' });
    }
    expect(provider.instances()).toEqual([]);
  });

  it('stop() leaves no process alive, and the provider refuses to scale afterwards', async () => {
    const provider = modelServers();
    await provider.scale(2);
    const started = pids(provider);
    await provider.stop();

    for (const pid of started) expect(alive(pid)).toBe(false);
    expect(provider.instances().map((inst) => inst.state)).toEqual(['stopped', 'stopped']);
    expect(provider.readyUrls()).toEqual([]);
    await expect(provider.scale(1)).rejects.toMatchObject({ code: 'SAFEROLL_E_CONFLICT' });
  });

  it('stop() during a scale() that waits for readiness ends both and leaves no process', async () => {
    const provider = modelServers({ READY_DELAY_MS: '60000' }, { readinessTimeoutMs: 60_000 });
    const scaling = provider.scale(2);
    const started = await waitFor(() => {
      const all = pids(provider);
      return all.length === 2 && all.every((pid) => pid > 0) ? all : undefined;
    }, 10_000, 'two children spawned');
    await provider.stop();

    const err = await provisioningError(scaling);
    expect(err.message).toContain('stopped while the instance was starting');
    for (const pid of started) expect(alive(pid)).toBe(false);
  });

  it('stop() kills with SIGKILL what ignores SIGTERM', async () => {
    const script = `process.on('SIGTERM', () => {});
      require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');`;
    const provider = inlineNode(script, { stopGraceMs: 300 });
    await provider.scale(1);
    const [pid] = pids(provider);
    await provider.stop();
    expect(alive(pid ?? -1)).toBe(false);
  });

  it('logs() shows the tail of every instance output, prefixed by the instance id', async () => {
    const provider = modelServers();
    await provider.scale(2);
    const lines = await provider.logs(5);
    expect(lines).toContainEqual(expect.stringMatching(/^\[0\] model-server v1 listening on http:\/\/127\.0\.0\.1:\d+/));
    expect(lines).toContainEqual(expect.stringMatching(/^\[1\] model-server v1 listening/));
    expect(await provider.logs(0)).toEqual([]);
  });
});

describe('ProcessProvider re-adoption', () => {
  it('re-adopts the running instances from records(), and restarts one that dies later', async () => {
    const first = modelServers();
    await first.scale(2);
    const records = first.records();
    first.detach();
    await first.stop(); // a no-op once detached: the children belong to the next provider

    const second = modelServers({}, { restore: records });
    await second.scale(2);
    expect(pids(second)).toEqual(records.map((record) => record.pid));
    expect(second.instances().map((inst) => inst.state)).toEqual(['ready', 'ready']);
    expect(second.records()).toEqual(records);
    for (const url of second.readyUrls()) expect((await score(url)).status).toBe(200);
    expect(await second.logs(5)).toContainEqual(expect.stringMatching(/^\[0\] model-server v1 listening/));

    // An adopted child gives no 'exit' event: its death is found by polling.
    const dead = records[0]?.pid ?? -1;
    signal(-dead, 'SIGKILL');
    const restarted = await waitFor(() => {
      const inst = second.instances()[0];
      return inst?.state === 'ready' && inst.pid !== dead ? inst : undefined;
    }, 15_000, 'a restarted instance');
    expect((await score(restarted.url)).body.pid).toBe(restarted.pid);

    const adopted = pids(second);
    await second.stop();
    for (const pid of adopted) expect(alive(pid)).toBe(false);
  });

  it('starts afresh, under the same id, when the recorded process is gone', async () => {
    const first = modelServers();
    await first.scale(1);
    const records = first.records();
    await first.stop();

    const second = modelServers({}, { restore: records });
    await second.scale(1);
    const [inst] = second.instances();
    expect(inst?.id).toBe('0');
    expect(inst?.state).toBe('ready');
    expect(inst?.pid).not.toBe(records[0]?.pid);
  });

  it('kills a leftover of our command that does not answer, but never an unrelated process that reused the pid', async () => {
    const leftover = startStray(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const unrelated = startStray('sleep', ['60']);
    const restore = [
      { id: '0', port: await unusedPort(), pid: leftover, logFile: join(logDir, 'old-0.log') },
      { id: '1', port: await unusedPort(), pid: unrelated, logFile: join(logDir, 'old-1.log') },
    ];
    const provider = modelServers({}, { restore, stopGraceMs: 500 });
    await provider.scale(2);

    expect(provider.instances().map((inst) => inst.state)).toEqual(['ready', 'ready']);
    expect(pids(provider)).not.toContain(leftover);
    expect(pids(provider)).not.toContain(unrelated);
    await waitFor(() => !alive(leftover), 5_000, 'the leftover is killed');
    expect(alive(unrelated)).toBe(true);
  });
});

describe('examples/model-server.mjs, run by the provider', () => {
  it('fails exactly the configured share of requests, and takes new settings at runtime', async () => {
    const provider = modelServers({ ERROR_RATE: '0.25' });
    await provider.scale(1);
    const url = provider.readyUrls()[0] ?? '';

    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await score(url)).status);
    expect(statuses).toEqual([200, 200, 200, 500, 200, 200, 200, 500]);

    const res = await request(`${url}/_control`, { method: 'POST', body: JSON.stringify({ errorRate: 0, latencyMs: 1 }) });
    expect(await res.body.json()).toEqual({ errorRate: 0, latencyMs: 1 });
    for (let i = 0; i < 4; i += 1) expect((await score(url)).status).toBe(200);
    const shown = await request(`${url}/_control`);
    expect(await shown.body.json()).toEqual({ errorRate: 0, latencyMs: 1 });
  });
});
