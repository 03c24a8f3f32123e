// The built CLI and worker reach Temporal as the Temporal CLI would: from a
// temporal.toml profile, a TEMPORAL_* variable over it, a flag over that; a bad
// value stops the command before it changes anything (exit 2, the source named).
import { Connection, Client, WorkflowNotFoundError } from '@temporalio/client';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT, spawnCli } from '../support/cli.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, run, writeTemp } from './helpers.js';

const NOWHERE = '127.0.0.1:1';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A config file whose "default" profile points nowhere and whose "test" profile is this run's Temporal. */
async function profiles(): Promise<string> {
  return writeTemp(
    'temporal.toml',
    `[profile.default]\naddress = "${NOWHERE}"\n\n[profile.test]\naddress = "${inject('temporalAddress')}"\nnamespace = "default"\n`,
  );
}

/** Reached Temporal: it answered that no rollout ran there (exit 2), instead of the connection failing (exit 3). */
function expectReached(result: { code: number | null; output: string }): void {
  expect(result.code, result.output).toBe(2);
  expect(result.output).toContain('no rollout has run on endpoint cfg-none');
}

describe('saferoll status finds Temporal', () => {
  it('from the profile named by TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE', async () => {
    const env = cliEnv(undefined, { TEMPORAL_CONFIG_FILE: await profiles(), TEMPORAL_PROFILE: 'test' });
    expectReached(await run(['status', 'cfg-none'], { ...env, TEMPORAL_ADDRESS: undefined }));
  });

  it('from TEMPORAL_ADDRESS over the profile', async () => {
    const env = cliEnv(undefined, { TEMPORAL_CONFIG_FILE: await profiles() });
    const fromProfile = await run(['status', 'cfg-none'], { ...env, TEMPORAL_ADDRESS: undefined });
    expect(fromProfile.code, fromProfile.output).toBe(3);
    expect(fromProfile.output).toContain(`cannot reach Temporal at ${NOWHERE}`);
    expectReached(await run(['status', 'cfg-none'], env));
  });

  it('from --address over TEMPORAL_ADDRESS, and --profile over TEMPORAL_PROFILE', async () => {
    const env = cliEnv(undefined, { TEMPORAL_CONFIG_FILE: await profiles(), TEMPORAL_ADDRESS: NOWHERE });
    expectReached(await run(['status', 'cfg-none', '--address', inject('temporalAddress')], env));
    expectReached(await run(['status', 'cfg-none', '--profile', 'test'], { ...env, TEMPORAL_ADDRESS: undefined, TEMPORAL_PROFILE: 'default' }));
  });
});

describe('a bad Temporal setting', () => {
  it('stops saferoll start before anything starts: exit 2, the variable named, no rollout in Temporal', async () => {
    const endpoint = 'cfg-bad-tls';
    const args = [
      'start',
      '--policy',
      path.join(PROJECT_ROOT, 'policies/quick.yaml'),
      '--endpoint',
      endpoint,
      '--green',
      'green',
      '--upstream',
      'http://127.0.0.1:9',
    ];
    const { code, output } = await run(args, cliEnv(undefined, { TEMPORAL_TLS: 'yes' }));
    expect(code, output).toBe(2);
    expect(output.trim()).toBe('saferoll start: TEMPORAL_TLS must be true, false, 1 or 0, got "yes"');
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    cleanups.push(() => connection.close());
    const describe = new Client({ connection }).workflow.getHandle(`rollout-${endpoint}`).describe();
    await expect(describe).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('in a profile stops saferoll worker before it connects: exit 2, the file field named', async () => {
    const file = await writeTemp('temporal.toml', '[profile.default]\nnamespace = 7\n');
    const { code, output } = await run(['worker'], { ...cliEnv(undefined, { TEMPORAL_CONFIG_FILE: file }), TEMPORAL_ADDRESS: undefined });
    expect(code, output).toBe(2);
    expect(output.trim()).toBe(`saferoll worker: ${file}: profile.default.namespace: must be a string, got a number`);
  });
});

describe('saferoll worker', () => {
  it('polls the Temporal server of its profile', async () => {
    const worker = spawnCli(['worker', '--task-queue', 'cfg-profile-queue'], {
      ...cliEnv(undefined, { TEMPORAL_CONFIG_FILE: await profiles(), TEMPORAL_PROFILE: 'test' }),
      TEMPORAL_ADDRESS: undefined,
    });
    cleanups.push(async () => {
      worker.child.kill('SIGTERM');
      await worker.exited;
    });
    const line = await waitFor(
      () =>
        /polling task queue "cfg-profile-queue" on (\S+)/.exec(worker.output()) ??
        (worker.child.exitCode !== null ? Promise.reject(new Error(worker.output())) : null),
      120_000,
      'worker polling',
    );
    expect(line[1]).toBe(inject('temporalAddress'));
  }, 150_000);
});
