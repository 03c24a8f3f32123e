// `saferoll start --wait` while Temporal dies and comes back: the rollout goes
// on in Temporal, so the CLI must ride the outage out and report the rollout's
// true outcome. Its own Temporal dev server (a database file, so a restart on
// the same port keeps the workflow), a real router, a `saferoll worker` child.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTemporalDevServer, type DevServer } from '../../cli/temporal-dev-server.js';
import { freePort } from '../../shared/free-port.js';
import { rolloutWorkflowId } from '../../workflows/messages.js';
import { spawnCli, stopCli, type CliProcess } from '../support/cli.js';
import { startLoad, type Load } from '../support/load.js';
import { createEndpointWithBlue } from '../support/rollout-fixture.js';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, modelServerCommand, writeTemp } from './helpers.js';

let dir: string;
let port: number;
let temporal: DevServer;
let router: TestRouter;
let worker: CliProcess;
let env: Record<string, string | undefined>;

const SLO = ['slo:', '  latency: { p95: 2s }', '  errorRate: 1%', '  minRequests: 20', 'analysis: { interval: 500ms }'];

function startServer(): Promise<DevServer> {
  return startTemporalDevServer({ port, headless: true, dbFile: path.join(dir, 'temporal.db') });
}

/** kill -9, as a crash or the OOM killer would. */
async function killServer(): Promise<void> {
  const exited = new Promise((resolve) => temporal.child.once('exit', resolve));
  temporal.child.kill('SIGKILL');
  await exited;
}

/** Resolves with the output once `pattern` shows; rejects at once if the CLI exits first. */
function waitForOutput(p: CliProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return waitFor(
    () => {
      if (pattern.test(p.output())) return p.output();
      if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode} before ${pattern}:\n${p.output()}`);
      return undefined;
    },
    timeoutMs,
    `${pattern}`,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${p.output()}`);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-outage-'));
  port = await freePort();
  temporal = await startServer();
  router = await startTestRouter({ readinessTimeoutMs: 15_000 });
  env = cliEnv(router, { TEMPORAL_ADDRESS: temporal.address });
  worker = spawnCli(['worker'], env);
  await waitForOutput(worker, /polling task queue/, 60_000);
});

afterAll(async () => {
  await stopCli(worker);
  await temporal?.stop();
  await router?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('saferoll start --wait through a Temporal outage', () => {
  let load: Load | undefined;
  afterAll(async () => {
    await load?.stop();
  });

  it('says it lost Temporal, reconnects when it is back, and exits 0 when the rollout is promoted', async () => {
    const key = await createEndpointWithBlue(router, 'outage-promote');
    load = startLoad(router.router.dataUrl, 'outage-promote', key, 2);
    const policy = await writeTemp(
      'outage.yaml',
      `${['name: outage', ...SLO, 'steps:', '  - create: {}', '  - mirror: { percent: 50, for: 2s }', '  - traffic: { percent: 10, for: 6s }', '  - traffic: { percent: 100, for: 2s }', '  - deleteBlue: {}'].join('\n')}\n`,
    );
    const start = spawnCli(
      ['start', '--policy', policy, '--endpoint', 'outage-promote', '--green', 'green', '--command', modelServerCommand(), '--env', 'LATENCY_MS=5', '--wait'],
      env,
    );

    await waitForOutput(start, /phase Traffic/, 60_000);
    await killServer();
    await waitForOutput(start, new RegExp(`lost the connection to Temporal at ${temporal.address.replace(/\./g, '\\.')} .*reconnecting for up to 5m`), 60_000);
    temporal = await startServer();
    await waitForOutput(start, new RegExp(`reconnected to Temporal at ${temporal.address.replace(/\./g, '\\.')} after [\\d.]+ s`), 60_000);

    const { code } = await start.exited;
    const output = start.output();
    expect(code, output).toBe(0);
    expect(output).toContain('PROMOTED rollout-outage-promote');
    expect(output.match(/lost the connection/g), output).toHaveLength(1);
    expect((await router.admin.getEndpoint('outage-promote')).traffic).toEqual({ green: 100 });
    // The worker rode the outage out too (the Temporal SDK's worker redials on its own).
    expect(worker.child.exitCode).toBeNull();
  }, 180_000);

  it('gives up with exit 3 after --reconnect-timeout, and the rollout goes on', async () => {
    await createEndpointWithBlue(router, 'outage-give-up');
    const policy = await writeTemp('approval.yaml', `${['name: approval', ...SLO, 'steps:', '  - create: {}', '  - approval: {}'].join('\n')}\n`);
    const start = spawnCli(
      [
        'start',
        '--policy',
        policy,
        '--endpoint',
        'outage-give-up',
        '--green',
        'green',
        '--command',
        modelServerCommand(),
        '--wait',
        '--reconnect-timeout',
        '3s',
      ],
      env,
    );

    await waitForOutput(start, /phase Approval/, 60_000);
    await killServer();
    const { code } = await start.exited;
    const output = start.output();
    expect(code, output).toBe(3);
    expect(output).toMatch(/lost the connection to Temporal at .*reconnecting for up to 3s/);
    expect(output).toMatch(
      /^saferoll start: no connection to Temporal at \S+ for 3s \(--reconnect-timeout\); gave up following, the rollout goes on: saferoll status outage-give-up$/m,
    );
    expect(output).not.toMatch(/rolled back/i);

    temporal = await startServer();
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const description = await new Client({ connection }).workflow.getHandle(rolloutWorkflowId('outage-give-up')).describe();
      expect(description.status.name).toBe('RUNNING');
    } finally {
      await connection.close();
    }
  }, 180_000);
});
