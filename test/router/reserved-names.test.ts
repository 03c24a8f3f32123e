// Names a plain JavaScript object already answers to (constructor, __proto__,
// toString, ...) are refused with 400 naming the field, wherever a user names
// something: endpoints, deployments, and the keys of traffic, mirror, tag and
// environment maps. Each case is a symptom the router showed before.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESERVED_KEYS } from '../../shared/reserved-keys.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let upstream: TestUpstream;
let key: string;

interface Answer {
  status: number;
  json: { error?: { code: string; message: string; field?: string }; name?: string } | undefined;
}

async function raw(method: 'GET' | 'PUT' | 'PATCH', urlPath: string, body?: string, router = t): Promise<Answer> {
  const answer = await request(`${router.router.adminUrl}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, json: text ? (JSON.parse(text) as Answer['json']) : undefined };
}

const stateText = (router = t): Promise<string> => readFile(path.join(router.stateDir, 'state.json'), 'utf8');

beforeAll(async () => {
  t = await startTestRouter();
  upstream = await startUpstream('blue');
  await t.admin.putEndpoint('shop', { authMode: 'key' });
  await t.admin.putDeployment('shop', 'blue', { instanceCount: 1, upstreams: [upstream.url] });
  await waitFor(async () => (await t.admin.getDeployment('shop', 'blue')).provisioningState === 'Succeeded');
  await t.admin.setTraffic('shop', { blue: 100 });
  key = (await t.admin.getKeys('shop')).primaryKey;
});

afterAll(async () => {
  await t.close();
  await upstream.close();
});

describe('reserved names', () => {
  it('covers every name on Object.prototype, and "prototype"', () => {
    for (const name of [...Object.getOwnPropertyNames(Object.prototype), 'prototype']) expect(RESERVED_KEYS).toContain(name);
  });

  it('GET /v1/endpoints/constructor is a 400 naming the endpoint, not {"name":"Object"}', async () => {
    const answer = await raw('GET', '/v1/endpoints/constructor');
    expect(answer.status).toBe(400);
    expect(answer.json?.error).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'endpoint' });
    expect(answer.json?.error?.message).toMatch(/"constructor" is a reserved name/);
  });

  it('PUT /v1/endpoints/constructor is refused and writes nothing onto the global Object', async () => {
    const before = await stateText();
    const answer = await raw('PUT', '/v1/endpoints/constructor', JSON.stringify({ authMode: 'key', description: 'pwned', tags: { a: 'b' } }));
    expect(answer.status).toBe(400);
    expect(answer.json?.error?.field).toBe('endpoint');
    for (const field of ['description', 'tags', 'updatedAt']) expect(Object.hasOwn(Object, field)).toBe(false);
    expect(await stateText()).toBe(before);
  });

  it('PUT /v1/endpoints/prototype is refused too', async () => {
    const answer = await raw('PUT', '/v1/endpoints/prototype', JSON.stringify({ authMode: 'key' }));
    expect(answer.status).toBe(400);
    expect(answer.json?.error?.field).toBe('endpoint');
  });

  it('a deployment PUT under "constructor" leaves no orphan, not even after a restart', async () => {
    const first = await startTestRouter();
    const stateDir = first.stateDir;
    let second: TestRouter | undefined;
    try {
      await first.admin.putEndpoint('shop', { authMode: 'key' });
      const body = JSON.stringify({ instanceCount: 1, upstreams: [upstream.url] });
      const answer = await raw('PUT', '/v1/endpoints/constructor/deployments/orphan', body, first);
      expect(answer.status).toBe(400);
      expect(answer.json?.error?.field).toBe('endpoint');
      const deploymentNamed = await raw('PUT', '/v1/endpoints/shop/deployments/constructor', body, first);
      expect(deploymentNamed.status).toBe(400);
      expect(deploymentNamed.json?.error?.field).toBe('deployment');
      expect(Object.keys((JSON.parse(await stateText(first)) as { deployments: object }).deployments)).toEqual([]);

      await first.router.close();
      second = await startTestRouter({ stateDir });
      expect((await second.admin.listEndpoints()).map((e) => e.name)).toEqual(['shop']);
      expect(Object.keys((JSON.parse(await stateText(second)) as { deployments: object }).deployments)).toEqual([]);
    } finally {
      await second?.close();
      await first.close(); // also removes the state dir
    }
  });

  const refusedBodies: { what: string; method: 'PATCH' | 'PUT'; path: string; body: string; field: string }[] = [
    {
      what: 'a __proto__ traffic key (it used to empty the split)',
      method: 'PATCH',
      path: '/v1/endpoints/shop',
      body: '{"traffic":{"__proto__":100}}',
      field: 'traffic.__proto__',
    },
    { what: 'a constructor traffic key', method: 'PATCH', path: '/v1/endpoints/shop', body: '{"traffic":{"constructor":100}}', field: 'traffic.constructor' },
    {
      what: 'a __proto__ mirror key',
      method: 'PATCH',
      path: '/v1/endpoints/shop',
      body: '{"mirrorTraffic":{"__proto__":10}}',
      field: 'mirrorTraffic.__proto__',
    },
    { what: 'a __proto__ tag', method: 'PATCH', path: '/v1/endpoints/shop', body: '{"tags":{"__proto__":"x"}}', field: 'tags.__proto__' },
    {
      what: 'a hasOwnProperty tag',
      method: 'PUT',
      path: '/v1/endpoints/tagged',
      body: '{"authMode":"key","tags":{"hasOwnProperty":"x"}}',
      field: 'tags.hasOwnProperty',
    },
    {
      what: 'a __proto__ environment variable',
      method: 'PUT',
      path: '/v1/endpoints/shop/deployments/envy',
      body: '{"instanceCount":1,"process":{"command":"node","env":{"__proto__":"x"}}}',
      field: 'process.env.__proto__',
    },
    {
      what: 'a toString environment variable',
      method: 'PUT',
      path: '/v1/endpoints/shop/deployments/envy',
      body: '{"instanceCount":1,"process":{"command":"node","env":{"toString":"x"}}}',
      field: 'process.env.toString',
    },
  ];
  for (const c of refusedBodies) {
    it(`refuses ${c.what} with 400 naming ${c.field}, and changes nothing`, async () => {
      const before = { endpoints: await t.admin.listEndpoints(), file: await stateText() };
      const answer = await raw(c.method, c.path, c.body);
      expect(answer.status).toBe(400);
      expect(answer.json?.error).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: c.field });
      expect(answer.json?.error?.message).toMatch(/is a reserved name/);
      expect({ endpoints: await t.admin.listEndpoints(), file: await stateText() }).toEqual(before);
      expect((await t.call('shop', { key })).status).toBe(200);
    });
  }
});

describe('upstream URLs', () => {
  it('refuses credentials in an upstream URL with 400 naming the field (they were shown back and never used)', async () => {
    const before = await stateText();
    const body = JSON.stringify({ instanceCount: 1, upstreams: [upstream.url, `http://user:secret@127.0.0.1:${new URL(upstream.url).port}`] });
    const answer = await raw('PUT', '/v1/endpoints/shop/deployments/secretive', body);
    expect(answer.status).toBe(400);
    expect(answer.json?.error).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'upstreams.1' });
    expect(answer.json?.error?.message).toMatch(/must not contain credentials/);
    expect(answer.json?.error?.message).not.toContain('secret@');
    expect(await stateText()).toBe(before);
  });

  it('refuses a user name alone, too', async () => {
    const answer = await raw('PUT', '/v1/endpoints/shop/deployments/secretive', JSON.stringify({ instanceCount: 1, upstreams: ['http://token@127.0.0.1:9'] }));
    expect(answer.status).toBe(400);
    expect(answer.json?.error?.field).toBe('upstreams.0');
  });
});
