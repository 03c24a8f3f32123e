// The admin API as a user drives it: endpoints, keys, deployments, and every
// traffic rule refused with a 400 naming the field, leaving state unchanged.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaferollError } from '../../shared/errors.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let upstream: TestUpstream;

async function raw(method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', path: string, body?: string, token = TEST_ADMIN_TOKEN) {
  const answer = await request(`${t.router.adminUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body,
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, json: text ? (JSON.parse(text) as { error?: { code: string; message: string; field?: string } }) : undefined };
}

async function rejection(promise: Promise<unknown>): Promise<SaferollError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SaferollError);
  return err as SaferollError;
}

beforeAll(async () => {
  t = await startTestRouter();
  upstream = await startUpstream('any');
  await t.admin.putEndpoint('shop', { authMode: 'key', description: 'the shop model', tags: { team: 'ml' } });
  for (const name of ['blue', 'green', 'spare']) await t.admin.putDeployment('shop', name, { instanceCount: 1, upstreams: [upstream.url] });
  await waitFor(async () => (await t.admin.listDeployments('shop')).every((d) => d.provisioningState === 'Succeeded'));
  await t.admin.setTraffic('shop', { blue: 100 });
});

afterAll(async () => {
  await t.close();
  await upstream.close();
});

describe('endpoints', () => {
  it('creates, lists, shows and deletes endpoints', async () => {
    const created = await raw('PUT', '/v1/endpoints/temp-endpoint', JSON.stringify({ authMode: 'key' }));
    expect(created.status).toBe(201);
    const again = await raw('PUT', '/v1/endpoints/temp-endpoint', JSON.stringify({ authMode: 'key', description: 'x' }));
    expect(again.status).toBe(200);
    expect((await t.admin.listEndpoints()).map((e) => e.name).sort()).toEqual(['shop', 'temp-endpoint']);
    expect((await t.admin.getEndpoint('shop')).tags).toEqual({ team: 'ml' });
    await t.admin.putDeployment('temp-endpoint', 'one', { instanceCount: 1, upstreams: [upstream.url] });
    await t.admin.deleteEndpoint('temp-endpoint');
    expect((await rejection(t.admin.getEndpoint('temp-endpoint'))).code).toBe('SAFEROLL_E_NOT_FOUND');
    expect(Object.keys(JSON.parse(await (await import('node:fs/promises')).readFile(`${t.stateDir}/state.json`, 'utf8')).deployments)).not.toContain(
      'temp-endpoint/one',
    );
  });

  it('refuses bad names, unknown fields and bad auth modes, naming the field', async () => {
    const badName = await raw('PUT', '/v1/endpoints/Bad_Name', JSON.stringify({ authMode: 'key' }));
    expect(badName.status).toBe(400);
    expect(badName.json?.error?.field).toBe('endpoint');
    const unknown = await raw('PUT', '/v1/endpoints/okname', JSON.stringify({ authMode: 'key', colour: 'red' }));
    expect(unknown.status).toBe(400);
    expect(unknown.json?.error).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'colour' });
    const mode = await raw('PUT', '/v1/endpoints/okname', JSON.stringify({ authMode: 'aad' }));
    expect(mode.json?.error?.field).toBe('authMode');
    const notJson = await raw('PUT', '/v1/endpoints/okname', '{nope');
    expect(notJson.status).toBe(400);
    expect((await t.admin.listEndpoints()).map((e) => e.name)).not.toContain('okname');
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const big = JSON.stringify({ authMode: 'key', description: 'x'.repeat(1024 * 1024 + 10) });
    const answer = await raw('PUT', '/v1/endpoints/bigbody', big);
    expect(answer.status).toBe(413);
    expect(answer.json?.error?.code).toBe('SAFEROLL_E_PAYLOAD_TOO_LARGE');
  });

  it('hands out two keys that both work, and rotates one', async () => {
    const keys = await t.admin.getKeys('shop');
    expect(keys.primaryKey).not.toBe(keys.secondaryKey);
    expect((await t.call('shop', { key: keys.primaryKey })).status).toBe(200);
    expect((await t.call('shop', { key: keys.secondaryKey })).status).toBe(200);
    const rotated = await t.admin.regenerateKey('shop', 'primary');
    expect(rotated.secondaryKey).toBe(keys.secondaryKey);
    expect((await t.call('shop', { key: keys.primaryKey })).status).toBe(401);
    expect((await t.call('shop', { key: rotated.primaryKey })).status).toBe(200);
  });
});

describe('auth', () => {
  it('the data plane refuses requests without a valid key', async () => {
    expect((await t.call('shop', {})).status).toBe(401);
    expect((await t.call('shop', { key: 'wrong' })).status).toBe(401);
  });

  it('the admin API refuses requests without the admin token, /healthz stays open on both ports', async () => {
    expect((await raw('GET', '/v1/endpoints', undefined, '')).status).toBe(401);
    expect((await raw('GET', '/v1/endpoints', undefined, 'wrong')).status).toBe(401);
    expect((await raw('GET', '/metrics', undefined, 'wrong')).status).toBe(401);
    expect((await raw('GET', '/healthz', undefined, '')).status).toBe(200);
    expect((await request(`${t.router.dataUrl}/healthz`)).statusCode).toBe(200);
  });
});

describe('traffic rules', () => {
  const cases: { name: string; body: unknown; field: string; message: RegExp }[] = [
    { name: 'a non-integer percent', body: { traffic: { blue: 90.5, green: 9.5 } }, field: 'traffic.blue', message: /integer/ },
    { name: 'a percent over 100', body: { traffic: { blue: 120 } }, field: 'traffic.blue', message: /100/ },
    { name: 'live traffic not summing to 0 or 100', body: { traffic: { blue: 80, green: 10 } }, field: 'traffic', message: /sum to 0 or 100, got 90/ },
    { name: 'traffic to an unknown deployment', body: { traffic: { blue: 90, ghost: 10 } }, field: 'traffic.ghost', message: /does not exist/ },
    { name: 'mirror to two deployments', body: { mirrorTraffic: { green: 10, spare: 10 } }, field: 'mirrorTraffic', message: /one deployment/ },
    { name: 'mirror above 50%', body: { mirrorTraffic: { green: 60 } }, field: 'mirrorTraffic.green', message: /at most 50/ },
    {
      name: 'mirror to a deployment with live traffic',
      body: { traffic: { blue: 90, green: 10 }, mirrorTraffic: { green: 10 } },
      field: 'mirrorTraffic.green',
      message: /live traffic/,
    },
    { name: 'an unknown field', body: { trafic: { blue: 100 } }, field: 'trafic', message: /unknown field/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with 400 naming ${c.field}, and changes nothing`, async () => {
      const before = await t.admin.getEndpoint('shop');
      const answer = await raw('PATCH', '/v1/endpoints/shop', JSON.stringify(c.body));
      expect(answer.status).toBe(400);
      expect(answer.json?.error?.field).toBe(c.field);
      expect(answer.json?.error?.message).toMatch(c.message);
      expect(await t.admin.getEndpoint('shop')).toEqual(before);
    });
  }

  it('refuses traffic to a deployment that is not Succeeded', async () => {
    await t.admin.putDeployment('shop', 'broken', { instanceCount: 1, process: { command: 'false', args: [], env: {}, readinessPath: '/healthz' } });
    await waitFor(async () => (await t.admin.getDeployment('shop', 'broken')).provisioningState === 'Failed');
    const answer = await raw('PATCH', '/v1/endpoints/shop', JSON.stringify({ traffic: { blue: 90, broken: 10 } }));
    expect(answer.status).toBe(400);
    expect(answer.json?.error?.message).toMatch(/Failed; only Succeeded deployments get traffic/);
    await t.admin.deleteDeployment('shop', 'broken');
  });

  it('refuses to delete a deployment with live or mirror traffic (409)', async () => {
    expect((await rejection(t.admin.deleteDeployment('shop', 'blue'))).code).toBe('SAFEROLL_E_CONFLICT');
    await t.admin.setTraffic('shop', { blue: 100 }, { spare: 10 });
    expect((await rejection(t.admin.deleteDeployment('shop', 'spare'))).message).toMatch(/mirror/);
    await t.admin.setTraffic('shop', { blue: 100 }, {});
  });

  it('accepts a valid split and mirror', async () => {
    const view = await t.admin.setTraffic('shop', { blue: 90, green: 10 }, { spare: 5 });
    expect(view.traffic).toEqual({ blue: 90, green: 10 });
    expect(view.mirrorTraffic).toEqual({ spare: 5 });
    await t.admin.setTraffic('shop', { blue: 100 }, {});
  });
});

describe('deployments', () => {
  it('refuses an instanceCount above the number of upstreams and a changed spec', async () => {
    const tooMany = await raw('PUT', '/v1/endpoints/shop/deployments/extra', JSON.stringify({ instanceCount: 2, upstreams: [upstream.url] }));
    expect(tooMany.json?.error?.field).toBe('instanceCount');
    const changed = await raw('PUT', '/v1/endpoints/shop/deployments/blue', JSON.stringify({ instanceCount: 1, upstreams: ['http://127.0.0.1:1'] }));
    expect(changed.status).toBe(409);
    const same = await raw('PUT', '/v1/endpoints/shop/deployments/blue', JSON.stringify({ instanceCount: 1, upstreams: [upstream.url] }));
    expect(same.status).toBe(200);
  });

  it('names the field of a bad deployment body', async () => {
    const answer = await raw('PUT', '/v1/endpoints/shop/deployments/extra', JSON.stringify({ instanceCount: 0, upstreams: [upstream.url] }));
    expect(answer.status).toBe(400);
    expect(answer.json?.error?.field).toBe('instanceCount');
    const url = await raw('PUT', '/v1/endpoints/shop/deployments/extra', JSON.stringify({ instanceCount: 1, upstreams: ['ftp://x'] }));
    expect(url.json?.error?.field).toBe('upstreams.0');
  });
});
