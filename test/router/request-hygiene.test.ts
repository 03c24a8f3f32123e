// What the data plane refuses or cleans before and after proxying, over real
// sockets: endpoint names cannot be probed without a key, dot segments never
// reach an upstream (nor climb out of the endpoint), and headers an upstream
// names in Connection stop at the router.
import http, { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let upstream: TestUpstream;
let hopServer: Server;
let key: string;
let otherKey: string;

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http sends the path exactly as written (undici and fetch would resolve dot segments first). */
function rawCall(path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${t.router.dataUrl}/`, { method: 'GET', path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  t = await startTestRouter();
  upstream = await startUpstream('blue');
  hopServer = createServer((req, res) => {
    req.resume();
    res.writeHead(200, {
      connection: 'x-hop-secret, X-Hop-Other',
      'x-hop-secret': 'internal',
      'x-hop-other': 'internal',
      'x-kept': 'yes',
      'content-type': 'text/plain',
    });
    res.end('ok');
  });
  await new Promise<void>((resolve) => hopServer.listen(0, '127.0.0.1', resolve));
  for (const [endpoint, url] of [
    ['hygiene', upstream.url],
    ['other', upstream.url],
    ['hops', `http://127.0.0.1:${(hopServer.address() as AddressInfo).port}`],
  ] as const) {
    await t.admin.putEndpoint(endpoint, { authMode: 'key' });
    await t.admin.putDeployment(endpoint, 'blue', { instanceCount: 1, upstreams: [url] });
  }
  await waitFor(async () =>
    (await Promise.all(['hygiene', 'other', 'hops'].map((e) => t.admin.getDeployment(e, 'blue')))).every((d) => d.provisioningState === 'Succeeded'),
  );
  for (const endpoint of ['hygiene', 'other', 'hops']) await t.admin.setTraffic(endpoint, { blue: 100 });
  key = (await t.admin.getKeys('hygiene')).primaryKey;
  otherKey = (await t.admin.getKeys('other')).primaryKey;
});

afterAll(async () => {
  await t.close();
  await upstream.close();
  hopServer.closeAllConnections();
  await new Promise<void>((resolve) => hopServer.close(() => resolve()));
});

describe('the key is checked before the endpoint is looked up', () => {
  it.each([
    ['no key', {}],
    ['a wrong key', { authorization: 'Bearer not-a-key' }],
    ['a malformed authorization', { authorization: 'Basic abc' }],
  ])('with %s, an unknown endpoint answers exactly as a known one', async (_what, headers: Record<string, string>) => {
    const known = await rawCall('/hygiene/score', headers);
    const unknown = await rawCall('/no-such-endpoint/score', headers);
    expect(known.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toBe(known.body);
    expect(unknown.headers['www-authenticate']).toBe(known.headers['www-authenticate']);
    expect(unknown.headers['content-type']).toBe(known.headers['content-type']);
    expect(known.body).not.toContain('hygiene');
    expect(JSON.parse(known.body).error.code).toBe('SAFEROLL_E_UNAUTHORIZED');
  });

  it('a valid key of one endpoint opens no other, and names none: an unknown endpoint answers 401 as a known one does', async () => {
    const unknown = await rawCall('/no-such-endpoint/score', { authorization: `Bearer ${key}` });
    const known = await rawCall('/other/score', { authorization: `Bearer ${key}` });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toBe(known.body);
    expect((await rawCall('/other/score', { authorization: `Bearer ${otherKey}` })).status).toBe(200);
  });
});

describe('dot segments', () => {
  it.each([
    ['/hygiene/a/./b/../c', '/a/c'],
    ['/hygiene/a/%2e/b/%2E%2e/c?q=../x', '/a/c?q=../x'],
    ['/hygiene/a/b/..', '/a/'],
    ['/hygiene/%2e', '/'],
    ['/hygiene/org%2Fmodel/v1.2/score.json', '/org%2Fmodel/v1.2/score.json'],
  ])('%s reaches the upstream as %s', async (path, expected) => {
    const answer = await rawCall(path, { authorization: `Bearer ${key}` });
    expect(answer.status).toBe(200);
    expect(upstream.lastRequest?.url).toBe(expected);
  });

  it.each([
    '/hygiene/../other/score',
    '/hygiene/..',
    '/hygiene/%2e%2e/other/score',
    '/hygiene/a/.%2E/%2e./other',
    '/hygiene/..%2fother/score',
    '/./hygiene/score',
    '/%2E%2E/hygiene/score',
  ])('%s is refused with 400 naming the path, and reaches no upstream', async (path) => {
    const before = upstream.hits;
    const answer = await rawCall(path, { authorization: `Bearer ${key}` });
    expect(answer.status).toBe(400);
    const { error } = JSON.parse(answer.body) as { error: { code: string; field: string; message: string } };
    expect(error).toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'path' });
    expect(error.message).toMatch(/^path: /);
    expect(upstream.hits).toBe(before);
  });
});

describe('answer headers', () => {
  it('drops the headers the upstream names in Connection, keeps the others', async () => {
    const answer = await rawCall('/hops/score', { authorization: `Bearer ${(await t.admin.getKeys('hops')).primaryKey}` });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-kept']).toBe('yes');
    expect(answer.headers['x-hop-secret']).toBeUndefined();
    expect(answer.headers['x-hop-other']).toBeUndefined();
    expect(answer.body).toBe('ok');
  });
});
