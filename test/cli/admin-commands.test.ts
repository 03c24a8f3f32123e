// `saferoll endpoint ...`, `saferoll deployment ...` and `saferoll invoke`
// as a user runs them: the built CLI against a real routing core, with the
// sample model server as process deployments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { cliEnv, modelServerCommand, run, writeTemp } from './helpers.js';

let router: TestRouter;
let upstream: TestUpstream;
let env: Record<string, string | undefined>;
const E = 'cli-admin';

beforeAll(async () => {
  router = await startTestRouter({ readinessTimeoutMs: 15_000 });
  upstream = await startUpstream('up');
  env = cliEnv(router);
});
afterAll(async () => {
  await router?.close();
  await upstream?.close();
});

describe('saferoll endpoint and deployment', () => {
  it('creates an endpoint and lists it', async () => {
    const created = await run(['endpoint', 'create', E, '--description', 'scores things', '--tag', 'team=ml'], env);
    expect(created.code, created.output).toBe(0);
    expect(created.output).toContain(`${router.router.dataUrl}/${E}/`);
    expect((await router.admin.getEndpoint(E)).tags).toEqual({ team: 'ml' });

    const listed = await run(['endpoint', 'list'], env);
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toMatch(new RegExp(`^${E}\\s+-\\s+-\\s+scores things$`, 'm'));
  });

  it('creates a process deployment and waits until it is Succeeded', async () => {
    const { code, output } = await run(['deployment', 'create', E, 'blue', '--command', modelServerCommand(), '--env', 'MODEL_VERSION=blue', '--wait'], env);
    expect(code, output).toBe(0);
    expect(output).toContain('Succeeded, 1/1 ready');
    const view = await router.admin.getDeployment(E, 'blue');
    expect(view.provisioningState).toBe('Succeeded');
    expect(view.source).toMatchObject({ process: { command: process.execPath, env: { MODEL_VERSION: 'blue' }, readinessPath: '/healthz' } });
  });

  it('creates an upstream deployment, answering JSON with --json', async () => {
    const { code, stdout } = await run(['deployment', 'create', E, 'ups', '--upstream', upstream.url, '--wait', '--json'], env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ endpoint: E, name: 'ups', provisioningState: 'Succeeded', source: { upstreams: [upstream.url] } });
  });

  it('refuses a deployment without a source, or with two, exit 2', async () => {
    for (const args of [[], ['--upstream', upstream.url, '--command', 'x'], ['--command', '"unterminated']]) {
      const { code, output } = await run(['deployment', 'create', E, 'nope', ...args], env);
      expect(code, output).toBe(2);
    }
    expect(await router.admin.findDeployment(E, 'nope')).toBeUndefined();
  });

  it('sets the live split and the mirror share', async () => {
    const traffic = await run(['endpoint', 'traffic', E, 'blue=100'], env);
    expect(traffic.code, traffic.output).toBe(0);
    expect(traffic.output).toContain('traffic: blue=100%');

    const mirror = await run(['endpoint', 'mirror', E, 'ups=10'], env);
    expect(mirror.code, mirror.output).toBe(0);
    expect(await router.admin.getEndpoint(E)).toMatchObject({ traffic: { blue: 100 }, mirrorTraffic: { ups: 10 } });

    const off = await run(['endpoint', 'mirror', E, 'off', '--json'], env);
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout)).toEqual({ endpoint: E, traffic: { blue: 100 }, mirrorTraffic: {} });
  });

  it('passes on the router refusing a split, exit 2, nothing changed', async () => {
    const { code, output } = await run(['endpoint', 'traffic', E, 'blue=60', 'ups=50'], env);
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/^saferoll endpoint: .*traffic/);
    expect((await router.admin.getEndpoint(E)).traffic).toEqual({ blue: 100 });

    const malformed = await run(['endpoint', 'traffic', E, 'blue:100'], env);
    expect(malformed.code).toBe(2);
    expect(malformed.output).toContain('expected name=percent');
  });

  it('shows the endpoint with its deployments, and each deployment with its instances', async () => {
    const shown = await run(['endpoint', 'show', E], env);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.output).toContain('traffic:     blue=100%');
    expect(shown.output).toMatch(/^\s+blue\s+Succeeded\s+1\/1 ready\s+/m);
    expect(shown.output).toMatch(/^\s+ups\s+Succeeded\s+1\/1 ready\s+http:\/\/127\.0\.0\.1:\d+$/m);

    const listed = await run(['deployment', 'list', E, '--json'], env);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { deployments: { name: string }[] }).deployments.map((d) => d.name).sort()).toEqual(['blue', 'ups']);

    const one = await run(['deployment', 'show', E, 'blue'], env);
    expect(one.code, one.output).toBe(0);
    expect(one.output).toContain('env: MODEL_VERSION=blue');
    expect(one.output).toMatch(/^\s+0\s+http:\/\/127\.0\.0\.1:\d+\s+\S+\s+yes\s+0\s+\d+/m);
  });

  it('shows a held guard lease on the endpoint', async () => {
    await router.admin.patchEndpoint(E, { guard: { ttl: '1h', fallback: 'blue' } });
    const shown = await run(['endpoint', 'show', E], env);
    await router.admin.patchEndpoint(E, { guard: null });
    expect(shown.output).toMatch(/^ {2}guard lease: held, expires \S+ \(ttl 1h\); falls back to blue$/m);
  });

  it('reads and rotates the keys', async () => {
    const before = await router.admin.getKeys(E);
    const keys = await run(['endpoint', 'keys', E, '--json'], env);
    expect(keys.code).toBe(0);
    expect(JSON.parse(keys.stdout)).toEqual(before);

    const rotated = await run(['endpoint', 'regenerate-key', E, 'secondary'], env);
    expect(rotated.code, rotated.output).toBe(0);
    const after = await router.admin.getKeys(E);
    expect(after.primaryKey).toBe(before.primaryKey);
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    expect(rotated.output).toContain(after.secondaryKey);

    const wrong = await run(['endpoint', 'regenerate-key', E, 'tertiary'], env);
    expect(wrong.code).toBe(2);
  });

  it('scales a deployment and shows its logs', async () => {
    const scaled = await run(['deployment', 'scale', E, 'blue', '2', '--wait'], env);
    expect(scaled.code, scaled.output).toBe(0);
    expect((await router.admin.getDeployment(E, 'blue')).instances.filter((i) => i.healthy)).toHaveLength(2);

    const logs = await run(['deployment', 'logs', E, 'blue', '--lines', '20'], env);
    expect(logs.code, logs.output).toBe(0);
    expect(logs.output).toContain('model-server blue listening');
  });

  it('refuses --lines above what the admin API serves, naming the flag, exit 2; takes the maximum', async () => {
    const over = await run(['deployment', 'logs', E, 'blue', '--lines', '10001'], env);
    expect(over.code, over.output).toBe(2);
    expect(over.output).toContain('--lines must be an integer from 1 to 10000, got "10001"');
    const max = await run(['deployment', 'logs', E, 'blue', '--lines', '10000'], env);
    expect(max.code, max.output).toBe(0);
    expect(max.output).toContain('model-server blue listening');
  });

  it('deletes a deployment; showing it then is exit 2', async () => {
    const created = await run(['deployment', 'create', E, 'spare', '--upstream', upstream.url], env);
    expect(created.code, created.output).toBe(0);
    const deleted = await run(['deployment', 'delete', E, 'spare'], env);
    expect(deleted.code, deleted.output).toBe(0);
    const shown = await run(['deployment', 'show', E, 'spare'], env);
    expect(shown.code).toBe(2);
    expect(shown.output).toMatch(/^saferoll deployment: .*spare/);
  });

  it('says which endpoint does not exist, exit 2', async () => {
    const { code, output } = await run(['endpoint', 'show', 'cli-nope'], env);
    expect(code).toBe(2);
    expect(output).toContain('cli-nope');
  });

  it('refuses a wrong admin token, exit 2', async () => {
    const { code, output } = await run(['endpoint', 'list'], { ...env, SAFEROLL_ADMIN_TOKEN: 'wrong' });
    expect(code, output).toBe(2);
  });
});

describe('saferoll load', () => {
  it('sends steady traffic for the given duration and reports the counts', async () => {
    const { code, output } = await run(['load', E, '--rps', '20', '--duration', '1'], env);
    expect(code, output).toBe(0);
    expect(output).toMatch(/done, [1-9]\d* sent, 0 failed/);
  });
});

describe('saferoll invoke', () => {
  it('sends one request with the endpoint key and names the deployment that answered', async () => {
    const { code, output } = await run(['invoke', E], env);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^200 from deployment blue$/m);
    expect(output).toContain('"version":"blue"');
  });

  it('sends a body from a file to one named deployment, with --json', async () => {
    const data = await writeTemp('body.json', '{"features":[1,2,3]}');
    const { code, stdout } = await run(['invoke', E, '--deployment', 'ups', '--data', data, '--path', '/predict', '--json'], env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ status: 200, deployment: 'ups', body: { upstream: 'up', method: 'POST', url: '/predict' } });
    expect(upstream.lastRequest?.body).toBe('{"features":[1,2,3]}');
  });

  it('exits 1 when the answer is not 2xx', async () => {
    const created = await run(['deployment', 'create', E, 'broken', '--command', modelServerCommand(), '--env', 'ERROR_RATE=1', '--wait'], env);
    expect(created.code, created.output).toBe(0);
    const { code, output } = await run(['invoke', E, '--deployment', 'broken'], env);
    expect(code).toBe(1);
    expect(output).toMatch(/^500 from deployment broken$/m);
  });
});

describe('saferoll endpoint delete', () => {
  it('deletes the endpoint', async () => {
    const { code, output } = await run(['endpoint', 'delete', E], env);
    expect(code, output).toBe(0);
    expect((await router.admin.listEndpoints()).map((e) => e.name)).not.toContain(E);
  });
});
