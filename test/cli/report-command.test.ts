// `saferoll report` and `saferoll wait` as a user runs them: the built CLI
// against the test run's Temporal server, a real routing core with model
// server processes, and a worker in this process (on its own task queue; the
// CLI commands find the workflow by its id).
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutEvidence } from '../../cli/report/evidence.js';
import { formatMs } from '../../cli/report/format.js';
import type { Policy } from '../../policies/types.js';
import { abortSignal, statusQuery } from '../../workflows/messages.js';
import type { RolloutResult } from '../../workflows/types.js';
import { spawnCli } from '../support/cli.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, run } from './helpers.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let bed: RolloutTestBed;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
  env = cliEnv(bed.router);
});
afterAll(async () => {
  await bed?.close();
});

/** Every step after create is gated, so the workflow's result keeps its last gate reading. Lenient limits: a busy machine must not fail a good green. */
const gatedToTheEnd: Policy = testPolicy({
  slo: { latency: { p95Ms: 2_000 }, errorRate: 0.01, minRequests: 20 },
  baseline: {},
  steps: [
    { kind: 'create' },
    { kind: 'mirror', percent: 50, forMs: 2_000 },
    { kind: 'traffic', percent: 10, forMs: 2_000 },
    { kind: 'traffic', percent: 100, forMs: 2_000 },
  ],
});

/** Waits for an operator for ever. */
const waitsForApproval: Policy = testPolicy({ steps: [{ kind: 'create' }, { kind: 'approval' }] });

describe('saferoll report', () => {
  const E = 'report-promote';
  let result: RolloutResult;
  let firstRunId: string;

  beforeAll(async () => {
    const key = await createEndpointWithBlue(bed.router, E);
    const load = startLoad(bed.router.router.dataUrl, E, key);
    const handle = await bed.start(E, modelServer('green', { LATENCY_MS: '5' }), gatedToTheEnd);
    firstRunId = handle.firstExecutionRunId;
    try {
      result = await rolloutResult(handle);
    } finally {
      await load.stop();
    }
  });

  it("--format json: the outcome, the steps, and readings that are the workflow's own, from its history", async () => {
    expect(result.outcome).toBe('promoted');
    expect(result.lastGate).toBeDefined();
    const { code, stdout, output } = await run(['report', E, '--format', 'json'], env);
    expect(code, output).toBe(0);
    const evidence = JSON.parse(stdout) as RolloutEvidence;
    expect(evidence).toMatchObject({
      schema: 'saferoll.report/v1',
      state: 'promoted',
      execution: 'COMPLETED',
      endpoint: E,
      green: 'green',
      blue: 'blue',
      reason: result.reason,
      runIds: [firstRunId],
    });
    expect(evidence.steps.map((s) => [s.description, s.state])).toEqual([
      ['create', 'passed'],
      ['mirror 50% 2s', 'passed'],
      ['traffic 10% 2s', 'passed'],
      ['traffic 100% 2s', 'passed'],
    ]);
    for (const step of evidence.steps.slice(1)) expect(step.ticks.length, step.description).toBeGreaterThan(0);
    expect(evidence.steps[1]?.ticks.every((t) => t.greenTraffic === 'mirror')).toBe(true);

    // The deciding reading of the last step is the workflow's own last gate reading...
    const last = evidence.steps[3]?.ticks.at(-1);
    expect(last && { ...last.gate, atMs: 0 }).toEqual(result.lastGate && { ...result.lastGate, atMs: 0 });
    expect(evidence.lastGate).toEqual(result.lastGate);
    // ...and its windows are what the measureWindows activity returned in the history event it names.
    const history = await bed.env.client.workflow.getHandle(`rollout-${E}`, firstRunId).fetchHistory();
    const event = history.events?.find((ev) => Number(String(ev.eventId)) === last?.eventId);
    const payload = event?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    expect(payload).toBeDefined();
    expect(defaultPayloadConverter.fromPayload<{ windows: unknown }>(payload ?? {}).windows).toEqual(last?.windows);
  });

  it('--format md --out: a pull-request comment naming outcome, steps and readings, and the chart next to it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-report-'));
    const file = path.join(dir, 'evidence', 'report.md');
    const { code, output } = await run(['report', E, '--out', file], env);
    expect(code, output).toBe(0);
    expect(output).toContain(`rollout-${E}: PROMOTED; wrote`);
    const md = await readFile(file, 'utf8');
    expect(md.split('\n')[0]).toBe(`## ✅ saferoll: PROMOTED \`rollout-${E}\``);
    expect(md).toContain(`**Reason:** green "green" promoted to 100%`);
    expect(md).toContain('](report.svg)');
    expect(md).toContain('| green p95 latency | ≤ 2000 ms |');
    for (const step of ['1 create', '2 mirror 50% 2s', '3 traffic 10% 2s', '4 traffic 100% 2s'])
      expect(md).toMatch(new RegExp(`^\\| ${step} \\| passed \\|`, 'm'));
    const gate = result.lastGate;
    const p95 = gate?.checks.find((c) => c.metric === 'p95')?.value;
    expect(md).toMatch(
      new RegExp(`^\\| 4 traffic 100% 2s \\| passed \\| [^|]+ \\| \\d+ \\| ${gate?.window} \\| ${gate?.greenRequests} \\| ${formatMs(p95)} \\|`, 'm'),
    );

    const svg = await readFile(path.join(dir, 'evidence', 'report.svg'), 'utf8');
    expect((await stat(path.join(dir, 'evidence', 'report.svg'))).size).toBeGreaterThan(0);
    for (const step of ['1', '2', '3', '4']) expect(svg).toContain(`class="step-boundary" data-step="${step}"`);
    expect(svg).toContain('data-series="green-p95"');
  });

  it('--format html: one page with the chart inline; --run names the same rollout', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-report-'));
    const { code, output } = await run(['report', E, '--run', firstRunId, '--format', 'html', '--out', path.join(dir, 'r.html')], env);
    expect(code, output).toBe(0);
    const html = await readFile(path.join(dir, 'r.html'), 'utf8');
    expect(html).toContain(`<title>saferoll: PROMOTED rollout-${E}</title>`);
    expect(html).toMatch(/<figure><svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it('refuses bad input with exit 2, naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['report', E, '--format', 'pdf'], /--format must be one of md, json, html, got "pdf"/],
      [['report', E, '--run', 'latest'], /--run must be a Temporal run id/],
      [['report', E, '--run', '01234567-89ab-4def-8123-456789abcdef'], /no rollout run 01234567-89ab-4def-8123-456789abcdef on endpoint report-promote/],
      [['report', 'report-never'], /no rollout has run on endpoint report-never/],
      [['report', E, '--format', 'json', '--chart-url', 'https://x/y.svg'], /--chart-url applies to --format md only/],
    ];
    for (const [args, message] of cases) {
      const { code, output } = await run(args, env);
      expect(code, output).toBe(2);
      expect(output).toMatch(message);
    }
  });

  it('saferoll wait on a rollout that has ended prints its verdict and exits with its code', async () => {
    const { code, output } = await run(['wait', E], env);
    expect(code, output).toBe(0);
    expect(output).toContain(`PROMOTED rollout-${E}`);
  });
});

describe('saferoll wait', () => {
  async function waitingRollout(endpoint: string) {
    await createEndpointWithBlue(bed.router, endpoint);
    const handle = await bed.start(endpoint, modelServer('green'), waitsForApproval);
    await waitFor(async () => (await handle.query(statusQuery)).waitingForApproval, 30_000, 'waiting for approval');
    return handle;
  }

  it('re-attaches to a running rollout and exits with its outcome: rolled back, 1', async () => {
    const E = 'wait-abort';
    const handle = await waitingRollout(E);
    const waiting = spawnCli(['wait', E], env);
    // Following (not yet ended): the progress lines of start --wait.
    await waitFor(() => waiting.output().includes('phase Approval'), 30_000, 'wait following the rollout');
    expect(waiting.output()).toContain(`following rollout-${E}`);
    await handle.signal(abortSignal, 'stop here');
    const { code } = await waiting.exited;
    expect(code, waiting.output()).toBe(1);
    expect(waiting.output()).toContain(`ROLLED BACK rollout-${E}`);
    expect(waiting.output().trimEnd().split('\n').at(-1)).toBe('  reason: stop here');
  });

  it('exits 5, not 1, when the workflow is terminated (no verdict, no rollback); report says so too', async () => {
    const E = 'wait-terminate';
    const handle = await waitingRollout(E);
    const waiting = spawnCli(['wait', E, '--json'], env);
    let stdout = '';
    waiting.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    await waitFor(() => waiting.output().includes('phase Approval'), 30_000, 'wait following the rollout');
    await handle.terminate('pulled the plug');
    const { code } = await waiting.exited;
    expect(code, waiting.output()).toBe(5);
    expect(waiting.output()).toContain(`rollout rollout-${E} was terminated, so no rollback ran`);
    expect(stdout).toBe('');

    const report = await run(['report', E, '--format', 'json'], env);
    expect(report.code, report.output).toBe(0);
    const evidence = JSON.parse(report.stdout) as RolloutEvidence;
    expect(evidence).toMatchObject({ state: 'failed', execution: 'TERMINATED' });
    expect(evidence.reason).toMatch(/^terminated: pulled the plug; no rollback ran/);
    expect(evidence.steps.map((s) => s.state)).toEqual(['passed', 'interrupted']);
    const md = await run(['report', E], env);
    expect(md.stdout.split('\n')[0]).toBe(`## ⚠️ saferoll: WORKFLOW TERMINATED \`rollout-${E}\``);
  });

  it('no rollout on the endpoint: exit 2', async () => {
    const { code, output } = await run(['wait', 'wait-never'], env);
    expect(code).toBe(2);
    expect(output).toContain('no rollout has run on endpoint wait-never');
  });
});
