// The process provider against real children: examples/model-server.mjs
// started on free ports, crashed, stopped, and re-adopted by a new provider,
// with and without isolation from the router's secrets; and what it adopts.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InstanceIsolation } from '../../../router/providers/instance-isolation.js';
import { parseStartTime, startTimeOf } from '../../../router/providers/os-process.js';
import { OWNER_MARKER_ENV } from '../../../router/providers/process-ownership.js';
import { ProcessProvider } from '../../../router/providers/process.js';
import type { ProcessProviderOptions } from '../../../router/providers/process.js';
import type { InstanceRecord } from '../../../router/providers/provider.js';
import { SaferollError } from '../../../shared/errors.js';
import { waitFor } from '../../support/wait-for.js';

const MODEL_SERVER = fileURLToPath(new URL('../../../examples/model-server.mjs', import.meta.url));
const SNOOP = fileURLToPath(new URL('../fixtures/secret-snoop.mjs', import.meta.url));
const MARKER = 'test-router-id:1:2';
const MODES = ['namespaces', 'none'] as const;

/** Plays the router's state dir: the logs live in it, and it holds a secret. */
let stateDir = '';
let logDir = '';
let mode: (typeof MODES)[number] = 'namespaces';
const providers: ProcessProvider[] = [];
const strays: number[] = [];

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'saferoll-process-'));
  logDir = join(stateDir, 'logs');
  writeFileSync(join(stateDir, 'state.json'), '{"secret":"endpoint-key"}', { mode: 0o600 });
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.stop()));
  for (const pid of strays.splice(0)) signal(-pid, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

function isolation(): InstanceIsolation {
  return mode === 'none' ? { mode: 'none' } : { mode: 'namespaces', hiddenDirs: [stateDir] };
}

function modelServers(env: Record<string, string> = {}, options: Partial<ProcessProviderOptions> = {}): ProcessProvider {
  const provider = new ProcessProvider({
    deploymentKey: 'ep/green',
    spec: { command: process.execPath, args: [MODEL_SERVER], env, readinessPath: '/healthz' },
    logDir,
    launch: { isolation: isolation(), marker: MARKER },
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

/**
 * Whether the process that reported `reported` as its pid belongs to the
 * instance whose recorded pid is `pid`: the same pid without isolation; in
 * namespaces, a process of the tree under it (its pid there, from NSpid).
 */
function servedBy(reported: number, pid: number | undefined): boolean {
  if (pid === undefined) return false;
  if (mode === 'none') return reported === pid;
  return innerPids(pid).has(reported);
}

function innerPids(pid: number): Set<number> {
  const found = new Set<number>();
  const walk = (p: number): void => {
    const nspid = /^NSpid:\s+(.*)$/m
      .exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]
      ?.trim()
      .split(/\s+/);
    if (nspid !== undefined) found.add(Number(nspid.at(-1)));
    for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(' ').filter(Boolean)) walk(Number(child));
  };
  walk(pid);
  return found;
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
function startStray(command: string, args: string[], env: Record<string, string> = {}): number {
  const child = spawn(command, args, { detached: true, stdio: 'ignore', env: { ...process.env, ...env } });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  strays.push(child.pid);
  return child.pid;
}

/** An unrelated node program that answers GET /healthz on `port`, as a model server would. */
async function startAnsweringStray(port: number, env: Record<string, string> = {}): Promise<number> {
  const script = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const pid = startStray(process.execPath, ['-e', script], env);
  await waitFor(async () => (await request(`http://127.0.0.1:${port}/healthz`)).statusCode === 200, 10_000, 'the stray answers');
  return pid;
}

async function provisioningError(promise: Promise<unknown>): Promise<SaferollError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SaferollError);
  const saferoll = err as SaferollError;
  expect(saferoll.code).toBe('SAFEROLL_E_PROVISIONING');
  return saferoll;
}

describe.each(MODES)('ProcessProvider (isolation %s)', (isolationMode) => {
  beforeEach(() => {
    mode = isolationMode;
  });

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
      expect(body.version).toBe('v2');
      expect(servedBy(body.pid, instances[i]?.pid)).toBe(true);
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
    const after = await waitFor(
      () => {
        const inst = provider.instances()[0];
        return inst?.state === 'ready' && inst.pid !== before.pid ? inst : undefined;
      },
      15_000,
      'a restarted instance',
    );

    expect(after.id).toBe('0');
    expect(after.restarts).toBe(1);
    expect(changes).toBeGreaterThan(0);
    expect(provider.records()[0]?.pid).toBe(after.pid);
    expect(servedBy((await score(after.url)).body.pid, after.pid)).toBe(true);
    expect(await provider.logs(50)).toContainEqual(expect.stringMatching(/^\[0\] --- saferoll: restart 1 of instance 0 after: exited with code 1/));
  });

  it('takes an instance that stops answering out of the ready set, and back when it answers again', async () => {
    const provider = modelServers({}, { healthProbeIntervalMs: 100 });
    await provider.scale(1);
    const pid = provider.instances()[0]?.pid ?? -1;

    signal(-pid, 'SIGSTOP');
    try {
      const inst = await waitFor(() => provider.instances().find((i) => i.state === 'unhealthy'), 20_000, 'unhealthy');
      expect(inst.reason).toMatch(/readiness failed 3 times in a row/);
      expect(provider.readyUrls()).toEqual([]);
    } finally {
      signal(-pid, 'SIGCONT');
    }
    await waitFor(() => provider.readyUrls().length === 1, 20_000, 'ready again');
    expect(provider.instances()[0]?.pid).toBe(pid);
  });

  it('restarts an instance that stays silent (hung), as a crash', async () => {
    const provider = modelServers({}, { healthProbeIntervalMs: 50 });
    await provider.scale(1);
    const pid = provider.instances()[0]?.pid ?? -1;
    signal(-pid, 'SIGSTOP'); // hung: alive, but answers nothing
    try {
      const restarted = await waitFor(() => provider.instances().find((i) => i.state === 'ready' && i.pid !== pid), 50_000, 'a new process ready');
      expect(restarted.restarts).toBe(1);
      expect(alive(pid)).toBe(false);
    } finally {
      signal(-pid, 'SIGCONT');
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
    expect(servedBy((await score(provider.readyUrls()[0] ?? '')).body.pid, first)).toBe(true);
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
    const started = await waitFor(
      () => {
        const all = pids(provider);
        return all.length === 2 && all.every((pid) => pid > 0) ? all : undefined;
      },
      10_000,
      'two children spawned',
    );
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

describe.each(MODES)('ProcessProvider re-adoption (isolation %s)', (isolationMode) => {
  beforeEach(() => {
    mode = isolationMode;
  });

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
    const restarted = await waitFor(
      () => {
        const inst = second.instances()[0];
        return inst?.state === 'ready' && inst.pid !== dead ? inst : undefined;
      },
      15_000,
      'a restarted instance',
    );
    expect(servedBy((await score(restarted.url)).body.pid, restarted.pid)).toBe(true);

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
});

describe('ProcessProvider adopts only what it proves its own', () => {
  beforeEach(() => {
    mode = 'none';
  });

  /** Restores `records` and waits for the instances: all fresh, none adopted. */
  async function restoreFresh(records: InstanceRecord[]): Promise<{ provider: ProcessProvider; warnings: string[] }> {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const provider = modelServers({}, { restore: records, stopGraceMs: 500 });
      await provider.scale(records.length);
      expect(provider.instances().map((inst) => inst.state)).toEqual(records.map(() => 'ready'));
      for (const record of records) expect(pids(provider)).not.toContain(record.pid);
      return { provider, warnings: warn.mock.calls.map((call) => String(call[0])) };
    } finally {
      warn.mockRestore();
    }
  }

  it('never adopts or signals what a record of an older saferoll names (no start time), and says so', async () => {
    // Old code adopted the one that answers (same command name) and killed the silent one.
    const answeringPort = await unusedPort();
    const answering = await startAnsweringStray(answeringPort);
    const silent = startStray(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const { warnings } = await restoreFresh([
      { id: '0', port: answeringPort, pid: answering, logFile: join(logDir, 'ep_green-0.log') },
      { id: '1', port: await unusedPort(), pid: silent, logFile: join(logDir, 'ep_green-1.log') },
    ]);
    expect(alive(answering)).toBe(true);
    expect(alive(silent)).toBe(true);
    expect(warnings).toContainEqual(
      expect.stringMatching(new RegExp(`ep/green instance 0: not adopting .*no start time \\(written by an older saferoll\\).*pid ${answering}.*left alone`)),
    );
    expect(warnings).toContainEqual(expect.stringMatching(new RegExp(`instance 1: .*pid ${silent}`)));
  });

  it('never adopts or signals a reused pid: same pid and marker, another start time', async () => {
    const port = await unusedPort();
    const other = await startAnsweringStray(port, { [OWNER_MARKER_ENV]: MARKER });
    const startTime = (startTimeOf(other) ?? 0) + 1;
    const { warnings } = await restoreFresh([{ id: '0', port, pid: other, startTime, logFile: join(logDir, 'ep_green-0.log') }]);
    expect(alive(other)).toBe(true);
    expect(warnings).toContainEqual(expect.stringMatching(`pid ${other} now belongs to another process`));
  });

  it("never adopts or signals a process without this state dir's marker, even with the right pid and start time", async () => {
    const [portA, portB] = [await unusedPort(), await unusedPort()];
    const unmarked = await startAnsweringStray(portA);
    const otherRouters = await startAnsweringStray(portB, { [OWNER_MARKER_ENV]: 'another-state-dir' });
    const { warnings } = await restoreFresh([
      { id: '0', port: portA, pid: unmarked, startTime: startTimeOf(unmarked), logFile: join(logDir, 'ep_green-0.log') },
      { id: '1', port: portB, pid: otherRouters, startTime: startTimeOf(otherRouters), logFile: join(logDir, 'ep_green-1.log') },
    ]);
    expect(alive(unmarked)).toBe(true);
    expect(alive(otherRouters)).toBe(true);
    expect(warnings.filter((line) => line.includes(`no matching ${OWNER_MARKER_ENV}`))).toHaveLength(2);
  });

  it("writes a fresh instance's output to its own log, never to the file a record names", async () => {
    const foreignLog = join(stateDir, 'another-router-instance.log');
    writeFileSync(foreignLog, "output of another router's instance\n");
    const unrelated = startStray('sleep', ['60']);
    await restoreFresh([{ id: '0', port: await unusedPort(), pid: unrelated, startTime: startTimeOf(unrelated), logFile: foreignLog }]);
    expect(readFileSync(foreignLog, 'utf8')).toBe("output of another router's instance\n");
    expect(readdirSync(logDir)).toContain('ep_green-0.log');
    expect(alive(unrelated)).toBe(true);
  });

  it('stops a leftover of its own (pid, start time and marker match) that does not answer', async () => {
    const leftover = startStray(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { [OWNER_MARKER_ENV]: MARKER });
    await restoreFresh([{ id: '0', port: await unusedPort(), pid: leftover, startTime: startTimeOf(leftover), logFile: join(logDir, 'x.log') }]);
    await waitFor(() => !alive(leftover), 5_000, 'the leftover is stopped');
  });

  it('reads the start time after the last ")" of /proc/<pid>/stat, whatever the program name holds', () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 3));
    rest[19] = '987654';
    expect(parseStartTime(`42 (a) b (c)) x) ${rest.join(' ')}`)).toBe(987654);
    expect(parseStartTime(`42 (node) ${rest.join(' ')}`)).toBe(987654);
    expect(parseStartTime('42 (truncated')).toBeUndefined();
    const own = startTimeOf(process.pid);
    expect(own).toBeTypeOf('number');
    expect(startTimeOf(process.pid)).toBe(own);
  });
});

describe.each(MODES)('what an instance can read (isolation %s)', (isolationMode) => {
  beforeEach(() => {
    mode = isolationMode;
  });

  it("namespaces: not the state dir, not the router's environment, and it cannot unmount the cover; none: both", async () => {
    const environ = `/proc/${process.pid}/environ`;
    const snoop = modelServers(
      {},
      {
        spec: {
          command: process.execPath,
          args: [SNOOP],
          env: { SNOOP_UNMOUNT: stateDir, SNOOP_LIST: JSON.stringify([stateDir]), SNOOP_READ: JSON.stringify([join(stateDir, 'state.json'), environ]) },
          readinessPath: '/healthz',
        },
      },
    );
    await snoop.scale(1);
    const res = await request(`${snoop.readyUrls()[0] ?? ''}/report`);
    const report = (await res.body.json()) as { unmount: { status: number }; listed: Record<string, string>; read: Record<string, string> };
    const state = report.read[join(stateDir, 'state.json')] ?? '';
    const routerEnv = report.read[environ] ?? '';
    if (isolationMode === 'namespaces') {
      expect(report.unmount.status).not.toBe(0);
      expect(report.listed[stateDir]).toBe('ok: []');
      expect(state).toBe('ENOENT');
      expect(routerEnv).not.toMatch(/^ok:/);
    } else {
      expect(state).toBe('ok: {"secret":"endpoint-key"}');
      expect(routerEnv).toMatch(/^ok: .*PATH=/s);
    }
    // Its output still reaches the log, in the hidden dir.
    expect(await snoop.logs(5)).toContainEqual(expect.stringMatching(/^\[0\] snoop report /));
  });

  it('SIGTERM on stop reaches the command itself, which can shut down cleanly', async () => {
    const snoop = modelServers({}, { spec: { command: process.execPath, args: [SNOOP], env: {}, readinessPath: '/healthz' } });
    await snoop.scale(1);
    const pid = pids(snoop)[0] ?? -1;
    await snoop.stop();
    expect(alive(pid)).toBe(false);
    expect(await snoop.logs(5)).toContainEqual('[0] snoop got SIGTERM');
  });
});

describe('ProcessProvider where isolation is not available', () => {
  beforeEach(() => {
    mode = 'namespaces';
  });

  it('fails to start an instance, saying why and what to do, where namespaces cannot be made', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent'; // no unshare to be found
    try {
      const err = await provisioningError(modelServers().scale(1));
      expect(err.message).toMatch(
        /cannot start: process instances run in their own user, mount and pid namespaces .*cannot run unshare.*--instance-isolation none/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('ProcessProvider env files', () => {
  beforeEach(() => {
    mode = 'namespaces';
  });

  it('reads them at each start: a changed file takes effect on the next restart; env overrides them', async () => {
    const base = join(tmpdir(), `saferoll-env-${process.pid}-${Date.now()}`);
    mkdirSync(base);
    const [first, second] = [join(base, 'a.env'), join(base, 'b.env')];
    writeFileSync(first, '# comment\nMODEL_VERSION=from-a\nCRASH_AFTER_REQUESTS=1\nLATENCY_MS=5\n');
    writeFileSync(second, 'MODEL_VERSION=from-b\n\n');
    try {
      const provider = modelServers(
        {},
        {
          spec: { command: process.execPath, args: [MODEL_SERVER], env: { LATENCY_MS: '0' }, envFiles: [first, second], readinessPath: '/healthz' },
        },
      );
      await provider.scale(1);
      const before = provider.instances()[0];
      expect((await score(before?.url ?? '')).body.version).toBe('from-b');
      writeFileSync(second, 'MODEL_VERSION=changed\n');
      const after = await waitFor(
        () => {
          const inst = provider.instances()[0];
          return inst?.state === 'ready' && inst.pid !== before?.pid ? inst : undefined;
        },
        15_000,
        'restarted after the crash',
      );
      expect((await score(after.url)).body.version).toBe('changed');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('fails the start, naming the file and line but never its content, when an env file is bad', async () => {
    const file = join(stateDir, 'bad.env');
    writeFileSync(file, 'GOOD=1\nnot a pair s3cr3t\n');
    const provider = modelServers({}, { spec: { command: process.execPath, args: [MODEL_SERVER], env: {}, envFiles: [file], readinessPath: '/healthz' } });
    const err = await provisioningError(provider.scale(1));
    expect(err.message).toContain(`env file ${file}:2: expected NAME=value`);
    expect(err.message).not.toContain('s3cr3t');
    expect(provider.instances()[0]?.state).toBe('crashed');
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
    expect(await res.body.json()).toEqual({ errorRate: 0, latencyMs: 1, accuracy: 0.95, predictionShift: 0 });
    for (let i = 0; i < 4; i += 1) expect((await score(url)).status).toBe(200);
    const shown = await request(`${url}/_control`);
    expect(await shown.body.json()).toEqual({ errorRate: 0, latencyMs: 1, accuracy: 0.95, predictionShift: 0 });
  });

  it('shifts its predictions by PREDICTION_SHIFT (kept within 0..1) and at runtime, the same request scoring the same otherwise', async () => {
    const plain = modelServers({});
    const shifted = modelServers({ PREDICTION_SHIFT: '0.3' }, { deploymentKey: 'ep/shifted' });
    await Promise.all([plain.scale(1), shifted.scale(1)]);
    const [plainUrl, shiftedUrl] = [plain.readyUrls()[0] ?? '', shifted.readyUrls()[0] ?? ''];
    // 'hello': 5 bytes, 5 / 105 = 0.048.
    expect((await score(plainUrl)).body.score).toBe(0.048);
    expect((await score(plainUrl)).body.score).toBe(0.048);
    expect((await score(shiftedUrl)).body.score).toBe(0.348);
    const refused = await request(`${shiftedUrl}/_control`, { method: 'POST', body: JSON.stringify({ predictionShift: 2 }) });
    expect(refused.statusCode).toBe(400);
    await refused.body.dump();
    const capped = await request(`${shiftedUrl}/_control`, { method: 'POST', body: JSON.stringify({ predictionShift: 1 }) });
    expect(await capped.body.json()).toMatchObject({ predictionShift: 1 });
    expect((await score(shiftedUrl)).body.score).toBe(1);
  });

  it('exports its model-quality gauge on /metrics, set by MODEL_ACCURACY and at runtime', async () => {
    const provider = modelServers({ MODEL_ACCURACY: '0.8' });
    await provider.scale(1);
    const url = provider.readyUrls()[0] ?? '';
    const gauge = async (): Promise<string | undefined> => {
      const answer = await request(`${url}/metrics`);
      expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return /^model_accuracy (\S+)$/m.exec(await answer.body.text())?.[1];
    };
    expect(await gauge()).toBe('0.8');
    const refused = await request(`${url}/_control`, { method: 'POST', body: JSON.stringify({ accuracy: 1.5 }) });
    expect(refused.statusCode).toBe(400);
    await refused.body.dump();
    expect(await gauge()).toBe('0.8');
    const degraded = await request(`${url}/_control`, { method: 'POST', body: JSON.stringify({ accuracy: 0.6 }) });
    expect(((await degraded.body.json()) as { accuracy: number }).accuracy).toBe(0.6);
    expect(await gauge()).toBe('0.6');
  });
});
