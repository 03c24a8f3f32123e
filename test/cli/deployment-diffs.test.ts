// `saferoll deployment diffs` as a user runs it: the built CLI against a real
// routing core mirroring to a green whose answers differ from blue's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShadowDiffsView } from '../../router/views.js';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';
import { cliEnv, run } from './helpers.js';

let router: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
let env: Record<string, string | undefined>;
const E = 'cli-diffs';

beforeAll(async () => {
  router = await startTestRouter();
  blue = await startUpstream('blue', { body: () => JSON.stringify({ label: 'cat', score: 0.91 }) });
  green = await startUpstream('green', { body: () => JSON.stringify({ label: 'cat', score: 0.42 }) });
  env = cliEnv(router);
  await router.admin.putEndpoint(E, { authMode: 'key' });
  await router.admin.putDeployment(E, 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await router.admin.putDeployment(E, 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await router.admin.getDeployment(E, 'green')).provisioningState === 'Succeeded');
  await waitFor(async () => (await router.admin.getDeployment(E, 'blue')).provisioningState === 'Succeeded');
});
afterAll(async () => {
  await router?.close();
  await blue?.close();
  await green?.close();
});

describe('saferoll deployment diffs', () => {
  it('says there are no pairs before any comparison', async () => {
    const { code, output } = await run(['deployment', 'diffs', E, 'green'], env);
    expect(code, output).toBe(0);
    expect(output).toContain(`shadow comparison of ${E}/green: 0 pairs compared`);
    expect(output).toContain('no pairs');
  });

  it('shows the pairs by result and the mismatching pairs, as text and as --json', async () => {
    await router.admin.patchEndpoint(E, {
      traffic: { blue: 100 },
      mirrorTraffic: { green: 50 },
      mirrorCompare: { json: { ignore: [], labels: ['$.label'], numeric: { tolerance: 0.01 } } },
    });
    const key = (await router.admin.getKeys(E)).primaryKey;
    for (let i = 0; i < 6; i++) expect((await router.call(E, { key, path: '/score' })).status).toBe(200);
    await waitFor(async () => (await router.admin.shadowDiffs(E, 'green')).pairs.mismatch === green.hits && green.hits > 0);

    const { code, output } = await run(['deployment', 'diffs', E, 'green'], env);
    expect(code, output).toBe(0);
    expect(output).toContain(
      `shadow comparison of ${E}/green: ${green.hits} pairs compared, 0 match, ${green.hits} mismatch (100.0% mismatch); 0 shed, 0 error`,
    );
    expect(output).toMatch(
      /POST \/score\n {2}\$\.score: 0\.91 vs 0\.42 \(tolerance 0\.01\)\n {2}blue {2}200: \{"label":"cat","score":0\.91\}\n {2}green 200: \{"label":"cat","score":0\.42\}/,
    );

    const asJson = await run(['deployment', 'diffs', E, 'green', '--json'], env);
    expect(asJson.code).toBe(0);
    const view = JSON.parse(asJson.stdout) as ShadowDiffsView;
    expect(view.pairs).toEqual({ match: 0, mismatch: green.hits, shed: 0, error: 0 });
    expect(view.diffs).toHaveLength(green.hits);
  });

  it('names a deployment that does not exist, exit non-zero', async () => {
    const { code, output } = await run(['deployment', 'diffs', E, 'nobody'], env);
    expect(code).not.toBe(0);
    expect(output).toMatch(/deployment "nobody" does not exist/);
  });

  it('documents itself in --help', async () => {
    const { code, output } = await run(['deployment', 'diffs', '--help'], env);
    expect(code).toBe(0);
    expect(output).toContain('diffs <endpoint> <deployment>');
  });
});
