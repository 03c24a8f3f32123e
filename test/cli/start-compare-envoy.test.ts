// Shadow comparison pairs answers inside the built-in data plane, so
// `saferoll start` refuses a policy that compares when the router runs Envoy:
// exit 2 naming the step, before green is created or a workflow started.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { waitSucceeded } from '../../router/deployment-wait.js';
import { rolloutWorkflowId } from '../../workflows/messages.js';
import { startEnvoyTestRouter } from '../support/envoy.js';
import type { TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { cliEnv, run } from './helpers.js';

let r: TestRouter;
let blue: TestUpstream;

beforeAll(async () => {
  r = await startEnvoyTestRouter();
  blue = await startUpstream('blue');
  await r.admin.putEndpoint('compare-envoy', { authMode: 'key' });
  await r.admin.putDeployment('compare-envoy', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await waitSucceeded(r.admin, 'compare-envoy', 'blue', { timeoutMs: 20_000 });
  await r.admin.setTraffic('compare-envoy', { blue: 100 });
});

afterAll(async () => {
  await r?.close();
  await blue?.close();
});

it('refuses a policy with compare on an Envoy router: exit 2 naming the step, nothing created', async () => {
  const policy = path.join(PROJECT_ROOT, 'policies/shadow-compare.yaml');
  const { code, output } = await run(['start', '--endpoint', 'compare-envoy', '--green', 'green', '--upstream', blue.url, '--policy', policy], cliEnv(r));
  expect(code).toBe(2);
  expect(output).toMatch(
    /saferoll start: steps\[\d+\]\.mirror\.compare: shadow comparison needs the builtin data plane .*this router runs envoy; nothing started/,
  );
  expect((await r.admin.listDeployments('compare-envoy')).map((d) => d.name)).toEqual(['blue']);
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  try {
    const described = new Client({ connection }).workflow.getHandle(rolloutWorkflowId('compare-envoy')).describe();
    await expect(described).rejects.toThrow(/not found/i);
  } finally {
    await connection.close();
  }
});
