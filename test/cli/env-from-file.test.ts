// `--env-from-file` on `saferoll deployment create` and `saferoll start`: a
// secret passed by reference reaches the instance, while the router's state,
// GET and the rollout's Temporal history hold only the file's absolute path.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rolloutWorkflowId } from '../../workflows/messages.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, modelServerCommand, run, writeTemp } from './helpers.js';

const SECRET = 'model-version-from-a-secret-file';
let router: TestRouter;
let upstream: TestUpstream;
let env: Record<string, string | undefined>;
let envFile = '';

beforeAll(async () => {
  router = await startTestRouter({ readinessTimeoutMs: 15_000 });
  upstream = await startUpstream('blue');
  env = cliEnv(router);
  envFile = await writeTemp('model.env', `MODEL_VERSION=${SECRET}\n`);
});
afterAll(async () => {
  await router?.close();
  await upstream?.close();
});

describe('--env-from-file', () => {
  it('deployment create: the router reads the file; the spec keeps only its absolute path', async () => {
    const E = 'envfile-create';
    await router.admin.putEndpoint(E, { authMode: 'key' });
    // Relative to the CLI's working directory (the tests run it in the project root).
    const relative = path.relative(PROJECT_ROOT, envFile);
    const created = await run(['deployment', 'create', E, 'blue', '--command', modelServerCommand(), '--env-from-file', relative, '--wait'], env);
    expect(created.code, created.output).toBe(0);
    const view = await router.admin.getDeployment(E, 'blue');
    expect(view.source).toMatchObject({ process: { envFiles: [envFile] } });
    expect(JSON.stringify(view)).not.toContain(SECRET);

    const shown = await run(['deployment', 'show', E, 'blue'], env);
    expect(shown.output).toContain(`env files: ${envFile}`);
    expect(shown.output).not.toContain(SECRET);

    await router.admin.setTraffic(E, { blue: 100 });
    const { primaryKey } = await router.admin.getKeys(E);
    expect(JSON.parse((await router.call(E, { key: primaryKey })).body).version).toBe(SECRET);
  });

  it('refuses it with --upstream (exit 2), and a file the router cannot read (exit 2, naming the field)', async () => {
    const E = 'envfile-refused';
    await router.admin.putEndpoint(E, { authMode: 'key' });
    const withUpstream = await run(['deployment', 'create', E, 'blue', '--upstream', upstream.url, '--env-from-file', envFile], env);
    expect(withUpstream.code).toBe(2);
    expect(withUpstream.output).toContain('--env-from-file');
    const missing = await run(['deployment', 'create', E, 'blue', '--command', modelServerCommand(), '--env-from-file', '/nonexistent/model.env'], env);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('process.envFiles.0: cannot read env file /nonexistent/model.env: ENOENT');
    expect(await router.admin.findDeployment(E, 'blue')).toBeUndefined();
  });

  it("start: the rollout's Temporal history holds the path, never the value", async () => {
    const E = 'envfile-start';
    await router.admin.putEndpoint(E, { authMode: 'key' });
    await router.admin.putDeployment(E, 'blue', { instanceCount: 1, upstreams: [upstream.url] });
    await waitFor(async () => (await router.admin.getDeployment(E, 'blue')).provisioningState === 'Succeeded', 10_000, 'blue Succeeded');
    await router.admin.setTraffic(E, { blue: 100 });
    // Waits for an operator for ever: the test ends it.
    const policy = await writeTemp('wait.yaml', 'name: envfile\nslo:\n  latency: { p95: 2s }\n  errorRate: 1%\nsteps:\n  - create: {}\n  - approval: {}\n');
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const handle = new Client({ connection }).workflow.getHandle(rolloutWorkflowId(E));
    try {
      const started = await run(
        ['start', '--policy', policy, '--endpoint', E, '--green', 'green', '--command', modelServerCommand(), '--env-from-file', envFile],
        env,
      );
      expect(started.code, started.output).toBe(0);
      const history = await handle.fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      const text = Buffer.from(input ?? new Uint8Array()).toString('utf8');
      expect(text).toContain(JSON.stringify(envFile));
      expect(text).not.toContain(SECRET);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await connection.close();
    }
  });
});
