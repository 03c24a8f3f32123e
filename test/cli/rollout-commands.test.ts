// `saferoll start|status|abort|pause|resume|promote|approve` as a user runs
// them: the built CLI against the test run's Temporal server, a real routing
// core and a worker in this process polling the CLI's task queue "saferoll".
// (The only test file with a worker on that queue: the others use their own.)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { temporalBinary } from '../../cli/temporal-dev-server.js';
import { freePort } from '../../shared/free-port.js';
import { createRolloutWorker, type RolloutWorker } from '../../worker/worker.js';
import { TASK_QUEUE, rolloutWorkflowId, statusQuery } from '../../workflows/messages.js';
import type { RolloutResult, RolloutStatus } from '../../workflows/types.js';
import { spawnCli } from '../support/cli.js';
import { startLoad } from '../support/load.js';
import { createEndpointWithBlue } from '../support/rollout-fixture.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { connectTestEnv, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, modelServerCommand, run, writeTemp } from './helpers.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let temporal: TestWorkflowEnvironment;
let router: TestRouter;
let worker: RolloutWorker;
let workerRun: Promise<void>;
let env: Record<string, string | undefined>;

// Lenient on latency: these tests are about the CLI, and a loaded test machine must not fail a good green.
const SLO = ['slo:', '  latency: { p95: 2s }', '  errorRate: 1%', '  minRequests: 20', 'analysis: { interval: 500ms }'];
const policies = {
  /** Seconds long: mirror, 10%, 100%, delete blue. */
  full: [
    'name: cli-full',
    ...SLO,
    'steps:',
    '  - create: {}',
    '  - smoke: { requests: 3, path: /score }',
    '  - mirror: { percent: 50, for: 3s }',
    '  - traffic: { percent: 10, for: 3s }',
    '  - traffic: { percent: 100, for: 2s }',
    '  - deleteBlue: {}',
  ],
  /** No smoke, so a failing green is caught by the mirror gate. */
  mirrorFirst: ['name: cli-mirror', ...SLO, 'steps:', '  - create: {}', '  - mirror: { percent: 50, for: 5s }', '  - traffic: { percent: 100, for: 2s }'],
  /** Waits for an operator for ever. */
  approval: ['name: cli-approval', ...SLO, 'steps:', '  - create: {}', '  - approval: {}'],
};
const files: Record<keyof typeof policies, string> = { full: '', mirrorFirst: '', approval: '' };

beforeAll(async () => {
  temporal = await connectTestEnv();
  router = await startTestRouter({ readinessTimeoutMs: 15_000 });
  worker = await createRolloutWorker(
    {
      temporalAddress: inject('temporalAddress'),
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      routerAdminUrl: router.router.adminUrl,
      routerDataUrl: router.router.dataUrl,
      adminToken: TEST_ADMIN_TOKEN,
    },
    { workflowBundle: await workflowBundle(), connection: temporal.nativeConnection },
  );
  workerRun = worker.run();
  env = cliEnv(router);
  for (const key of Object.keys(policies) as (keyof typeof policies)[]) files[key] = await writeTemp(`${key}.yaml`, `${policies[key].join('\n')}\n`);
});
afterAll(async () => {
  await worker?.close();
  await workerRun;
  await router?.close();
  await temporal?.teardown();
});

function startArgs(endpoint: string, policy: string, ...extra: string[]): string[] {
  const green = extra.includes('--green') ? [] : ['--green', 'green'];
  return ['start', '--policy', policy, '--endpoint', endpoint, ...green, '--command', modelServerCommand(), ...extra];
}

const handleOf = (endpoint: string) => temporal.client.workflow.getHandle(rolloutWorkflowId(endpoint));

async function statusOf(endpoint: string): Promise<RolloutStatus> {
  return handleOf(endpoint).query(statusQuery);
}

async function exists(endpoint: string): Promise<boolean> {
  return handleOf(endpoint)
    .describe()
    .then(() => true)
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    });
}

describe('saferoll start --wait', () => {
  it('promotes a good green: exit 0 and the result as JSON on stdout', async () => {
    const key = await createEndpointWithBlue(router, 'cli-promote');
    const load = startLoad(router.router.dataUrl, 'cli-promote', key);
    const { code, stdout, output } = await run(
      [...startArgs('cli-promote', files.full, '--env', 'LATENCY_MS=5', '--env', 'MODEL_VERSION=green'), '--wait', '--json'],
      env,
    );
    await load.stop();
    expect(code, output).toBe(0);
    const result = JSON.parse(stdout) as RolloutResult;
    expect(result).toMatchObject({ outcome: 'promoted', endpoint: 'cli-promote', blue: 'blue', green: 'green' });
    // Progress went to stderr, one line per decision in CI.
    expect(output).toContain('started rollout-cli-promote');
    expect(output).toContain('/namespaces/default/workflows/rollout-cli-promote');
    expect(output).toMatch(/step 3\/6: mirror 50% 3s/);
    expect(output).toMatch(/phase Traffic: step \d\/6/);
    expect(output).toContain('PROMOTED rollout-cli-promote');
    expect((await router.admin.getEndpoint('cli-promote')).traffic).toEqual({ green: 100 });
  });

  it('rolls back a green that fails every request: exit 1, the reason last', async () => {
    const key = await createEndpointWithBlue(router, 'cli-rollback');
    const load = startLoad(router.router.dataUrl, 'cli-rollback', key);
    const { code, output } = await run([...startArgs('cli-rollback', files.mirrorFirst, '--env', 'ERROR_RATE=1'), '--wait'], env);
    await load.stop();
    expect(code, output).toBe(1);
    const lines = output.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^ {2}reason: gate failed: /);
    expect(output).toContain('ROLLED BACK rollout-cli-rollback');
    expect(output).toMatch(/failed step: 2 \(mirror 50% 5s\)/);
    expect(output).toMatch(/gate: Failed \(.*errors 100\.0% > 1% FAILED/);
    expect(await router.admin.getEndpoint('cli-rollback')).toMatchObject({ traffic: { blue: 100 }, mirrorTraffic: {} });
  });

  it('exits 5, not 1, when the workflow is terminated instead of deciding (no rollback ran)', async () => {
    const endpoint = 'cli-terminate';
    await createEndpointWithBlue(router, endpoint);
    const waiting = spawnCli([...startArgs(endpoint, files.approval), '--wait'], env);
    await waitFor(async () => (await statusOf(endpoint)).waitingForApproval, 30_000, 'waiting for approval');
    await handleOf(endpoint).terminate('pulled the plug');
    const { code } = await waiting.exited;
    expect(code, waiting.output()).toBe(5);
    expect(waiting.output()).toContain(`rollout rollout-${endpoint} was terminated, so no rollback ran`);
  });
});

describe('saferoll start: bad input starts nothing', () => {
  beforeAll(async () => {
    await createEndpointWithBlue(router, 'cli-bad');
  });

  it.each([
    ['a bad green name', ['--green', 'Green_1']],
    ['green named like blue', ['--green', 'blue']],
    ['both --upstream and --command', ['--upstream', 'http://127.0.0.1:9']],
    ['an --env without =', ['--env', 'LATENCY_MS']],
    ['an instance count of 0', ['--instance-count', '0']],
  ])('%s: exit 2', async (_what, extra) => {
    const { code, output } = await run([...startArgs('cli-bad', files.full), ...extra], env);
    expect(code, output).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(await exists('cli-bad')).toBe(false);
  });

  it('a policy with problems: exit 2 with file:line:col', async () => {
    const policy = await writeTemp('broken.yaml', 'name: broken\nslo: {}\nsteps:\n  - create: {}\n');
    const { code, output } = await run(startArgs('cli-bad', policy), env);
    expect(code).toBe(2);
    expect(output).toMatch(new RegExp(`^${policy}:2:\\d+: slo: needs at least one limit`, 'm'));
    expect(await exists('cli-bad')).toBe(false);
  });

  it('an endpoint the router does not know: exit 2', async () => {
    const { code, output } = await run(startArgs('cli-unknown', files.full), env);
    expect(code).toBe(2);
    expect(output).toContain('cli-unknown');
    expect(await exists('cli-unknown')).toBe(false);
  });

  it('an unreachable router: exit 3', async () => {
    const { code, output } = await run(startArgs('cli-bad', files.full), { ...env, SAFEROLL_ROUTER_URL: 'http://127.0.0.1:1' });
    expect(code).toBe(3);
    expect(output).toContain('http://127.0.0.1:1');
    expect(await exists('cli-bad')).toBe(false);
  });
});

describe('saferoll start: Temporal cannot start the rollout: exit 3, nothing started', () => {
  beforeAll(async () => {
    await createEndpointWithBlue(router, 'cli-no-start');
  });

  function expectOneLineExit3(r: { code: number | null; output: string }, message: RegExp): void {
    expect(r.code, r.output).toBe(3);
    expect(r.output.trim().split('\n'), r.output).toHaveLength(1);
    expect(r.output.trim()).toMatch(message);
    expect(r.output).not.toMatch(/rolled back/i);
  }

  it('Temporal on a closed loopback port', async () => {
    const port = await freePort();
    const r = await run(startArgs('cli-no-start', files.full), { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expectOneLineExit3(r, new RegExp(`^saferoll start: cannot reach Temporal at 127\\.0\\.0\\.1:${port}`));
  });

  it('a namespace that does not exist', async () => {
    const r = await run([...startArgs('cli-no-start', files.full), '--namespace', 'saferoll-missing'], env);
    expectOneLineExit3(r, /^saferoll start: cannot start the rollout: namespace "saferoll-missing" does not exist on Temporal at \S+; nothing started$/);
  });

  it("a namespace without saferoll's search attributes: Temporal refuses the workflow", async () => {
    const namespace = 'saferoll-no-attributes';
    await promisify(execFile)(temporalBinary(), ['operator', 'namespace', 'create', '--namespace', namespace, '--address', inject('temporalAddress')]);
    // A new namespace reaches the frontend's cache a moment after it is registered.
    const client = new Client({ connection: temporal.client.connection, namespace });
    await waitFor(
      () =>
        client.workflow
          .getHandle('none')
          .describe()
          .catch((err: unknown) => err instanceof WorkflowNotFoundError),
      30_000,
      'namespace usable',
    );
    const r = await run([...startArgs('cli-no-start', files.full), '--namespace', namespace], env);
    expectOneLineExit3(
      r,
      /^saferoll start: Temporal at \S+ \(namespace saferoll-no-attributes\) refused to start the rollout: .*search attribute.*; nothing started$/,
    );
    await expect(client.workflow.getHandle(rolloutWorkflowId('cli-no-start')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('operating a running rollout', () => {
  const E = 'cli-operate';

  it('starts without --wait, printing the workflow id and its UI link', async () => {
    await createEndpointWithBlue(router, E);
    const { code, output } = await run(startArgs(E, files.approval), env);
    expect(code, output).toBe(0);
    expect(output).toContain(`started rollout-${E}`);
    expect(output).toContain(`${inject('temporalUiUrl') || 'http://localhost:8233'}/namespaces/default/workflows/rollout-${E}`);
    await waitFor(async () => (await statusOf(E)).waitingForApproval, 30_000, 'waiting for approval');
  });

  it('refuses a second rollout on the same endpoint with exit 4', async () => {
    const { code, output } = await run(startArgs(E, files.approval, '--green', 'other'), env);
    expect(code).toBe(4);
    expect(output).toContain(`rollout-${E}`);
  });

  it('lists it among the running rollouts, and shows it', async () => {
    // The list comes from Temporal's visibility store, which may lag a moment behind the start.
    const row = new RegExp(`^${E}\\s+step 2/2: approval\\s+Approval \\(approval\\)\\s+blue 100% / green 0%`, 'm');
    const listed = await waitFor(
      async () => {
        const r = await run(['status'], env);
        return r.code === 0 && row.test(r.output) ? r : undefined;
      },
      20_000,
      'the rollout listed',
    );
    expect(listed.output).toMatch(/^ENDPOINT\s+STEP\s+PHASE\s+TRAFFIC\s+LAST GATE$/m);

    const shown = await run(['status', E, '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      workflowId: `rollout-${E}`,
      execution: 'RUNNING',
      status: { phase: 'Approval', waitingForApproval: true },
    });
  });

  it('passes on a refused promote with its reason, exit 2', async () => {
    const { code, output } = await run(['promote', E], env);
    expect(code).toBe(2);
    expect(output).toMatch(/^saferoll promote: nothing to promote/);
  });

  it('pauses and resumes', async () => {
    expect((await run(['pause', E], env)).code).toBe(0);
    await waitFor(async () => (await statusOf(E)).paused, 10_000, 'paused');
    expect((await run(['resume', E], env)).code).toBe(0);
    await waitFor(async () => !(await statusOf(E)).paused, 10_000, 'resumed');
  });

  it('aborts: the rollout rolls back with the reason given', async () => {
    const { code, output } = await run(['abort', E, '--reason', 'wrong build'], env);
    expect(code, output).toBe(0);
    const result = await rolloutResult(handleOf(E));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('wrong build');
    expect(await router.admin.findDeployment(E, 'green')).toBeUndefined();

    const shown = await run(['status', E], env);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.output).toContain('ROLLED BACK');
    expect(shown.output).toContain('reason: wrong build');
  });

  it('says no rollout runs once it has ended, exit 2', async () => {
    for (const command of ['abort', 'pause', 'approve']) {
      const { code, output } = await run([command, E], env);
      expect(code).toBe(2);
      expect(output).toContain(`no rollout is running on endpoint ${E}`);
    }
    const never = await run(['status', 'cli-never'], env);
    expect(never.code).toBe(2);
    expect(never.output).toContain('no rollout has run on endpoint cli-never');
  });

  it('approves a waiting step, and the waiting start ends promoted', async () => {
    const endpoint = 'cli-approve';
    await createEndpointWithBlue(router, endpoint);
    const waiting = spawnCli([...startArgs(endpoint, files.approval), '--wait'], env);
    await waitFor(async () => (await statusOf(endpoint)).waitingForApproval, 30_000, 'waiting for approval');
    const approved = await run(['approve', endpoint, '--note', 'looks good'], env);
    expect(approved.code, approved.output).toBe(0);
    expect(approved.output).toContain('approved step 2');
    const { code } = await waiting.exited;
    expect(code, waiting.output()).toBe(0);
    expect(waiting.output()).toContain('approved: looks good');
    expect(waiting.output()).toContain(`PROMOTED rollout-${endpoint}`);
  });
});
