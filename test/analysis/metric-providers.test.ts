// The prometheus and web metric providers against real HTTP servers on
// loopback that answer as Prometheus's HTTP API and a JSON stats page do.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueryScope } from '../../analysis/metric-provider.js';
import { parseJsonPath, readJsonPath } from '../../shared/json-path.js';
import { prometheusProvider, readQueryResult } from '../../analysis/providers/prometheus.js';
import { webProvider } from '../../analysis/providers/web.js';
import { promDuration, renderPlaceholders, unknownPlaceholders } from '../../shared/metric-placeholders.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
const vector = (...values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })) },
});

const scope: QueryScope = { endpoint: 'chat', green: 'v2', blue: 'v1', side: 'green', windowMs: 90_000, intervalMs: 5_000 };

describe('placeholders', () => {
  it('renders every placeholder, the side read as {{deployment}}', () => {
    const values = { endpoint: 'chat', green: 'v2', blue: 'v1', deployment: 'v1', window: '1m30s', interval: '5s' };
    expect(renderPlaceholders('{{endpoint}}/{{ green }}/{{blue}}/{{deployment}}[{{window}}] {{interval}}', values)).toBe('chat/v2/v1/v1[1m30s] 5s');
  });
  it('names unknown placeholders and refuses to render them', () => {
    expect(unknownPlaceholders('x{{endpoint}}{{side}}{{ }}')).toEqual(['side', '']);
    expect(() => renderPlaceholders('{{side}}', { endpoint: '', green: '', blue: '', deployment: '', window: '', interval: '' })).toThrow(/side/);
  });
  it('writes windows as PromQL durations, rounded up to whole seconds', () => {
    expect([promDuration(30_000), promDuration(300_000), promDuration(5_400_000), promDuration(1_500), promDuration(0)]).toEqual([
      '30s',
      '5m',
      '1h30m',
      '2s',
      '1s',
    ]);
  });
});

describe('Prometheus query results', () => {
  it('reads one series, a scalar; no series and NaN are no data; several series are an error naming the count', () => {
    expect(readQueryResult(vector('0.93'))).toEqual({ kind: 'value', value: 0.93 });
    expect(readQueryResult({ status: 'success', data: { resultType: 'scalar', result: [1, '4'] } })).toEqual({ kind: 'value', value: 4 });
    expect(readQueryResult(vector())).toMatchObject({ kind: 'noData', reason: expect.stringMatching(/no data/) });
    expect(readQueryResult(vector('NaN'))).toMatchObject({ kind: 'noData' });
    expect(readQueryResult(vector('+Inf'))).toMatchObject({ kind: 'noData' });
    expect(readQueryResult(vector('1', '2', '3'))).toMatchObject({ kind: 'error', message: expect.stringMatching(/3 series/) });
    expect(readQueryResult({ status: 'success', data: { resultType: 'matrix', result: [] } })).toMatchObject({ kind: 'error' });
    expect(readQueryResult({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' })).toMatchObject({
      kind: 'error',
      message: 'Prometheus: bad_data: parse error at char 5',
    });
  });
});

describe('prometheus provider', () => {
  it('sends the rendered instant query with a bearer token from the environment', async () => {
    const seen: { query: string | null; auth: string | undefined }[] = [];
    const address = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ query: url.searchParams.get('query'), auth: req.headers.authorization });
      if (url.pathname !== '/api/v1/query') return json(res, 404, {});
      json(res, 200, vector('0.91'));
    });
    const provider = prometheusProvider({ env: { SAFEROLL_PROMETHEUS_TOKEN: 's3cret' } });
    const answer = await provider.run({ query: 'avg_over_time(acc{deployment="{{deployment}}"}[{{window}}])', address }, { ...scope, side: 'blue' });
    expect(answer).toEqual({ resolved: 'avg_over_time(acc{deployment="v1"}[1m30s])', reading: { kind: 'value', value: 0.91 } });
    expect(seen).toEqual([{ query: 'avg_over_time(acc{deployment="v1"}[1m30s])', auth: 'Bearer s3cret' }]);
  });

  it('uses SAFEROLL_PROMETHEUS_URL and basic auth when the check names no address', async () => {
    let auth: string | undefined;
    const address = await serve((req, res) => {
      auth = req.headers.authorization;
      json(res, 200, vector('1'));
    });
    const provider = prometheusProvider({ env: { SAFEROLL_PROMETHEUS_URL: address, SAFEROLL_PROMETHEUS_USER: 'u', SAFEROLL_PROMETHEUS_PASSWORD: 'p' } });
    expect((await provider.run({ query: 'up' }, scope)).reading).toEqual({ kind: 'value', value: 1 });
    expect(auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect((await prometheusProvider({ env: {} }).run({ query: 'up' }, scope)).reading).toMatchObject({ kind: 'error', message: /SAFEROLL_PROMETHEUS_URL/ });
  });

  it('turns 4xx/5xx, non-JSON, refusals and timeouts into errors with the status and first bytes', async () => {
    const address = await serve((req, res) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query');
      if (query === 'bad') return json(res, 400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:4: parse error' });
      if (query === 'html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
      if (query === 'down') return res.writeHead(503).end('service unavailable');
      // 'slow': never answers
    });
    const provider = prometheusProvider({ env: {}, timeoutMs: 300 });
    const run = async (query: string) => (await provider.run({ query, address }, scope)).reading;
    expect(await run('bad')).toEqual({ kind: 'error', message: 'Prometheus: HTTP 400: bad_data: invalid parameter "query": 1:4: parse error' });
    expect(await run('html')).toMatchObject({ kind: 'error', message: expect.stringMatching(/not JSON: <html>proxy login/) });
    expect(await run('down')).toMatchObject({ kind: 'error', message: expect.stringMatching(/HTTP 503.*service unavailable/) });
    expect(await run('slow')).toMatchObject({ kind: 'error', message: expect.stringMatching(/within 300ms/) });
    const closed = await serve(() => undefined);
    servers[servers.length - 1]?.close();
    await new Promise((resolve) => servers[servers.length - 1]?.once('close', resolve));
    expect((await provider.run({ query: 'up', address: closed }, scope)).reading).toMatchObject({ kind: 'error', message: /cannot reach/ });
  });
});

describe('web provider', () => {
  it('reads a number at a JSON path, with headers from the environment', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['x-api-key']}`);
      json(res, 200, { stats: [{ p95: '0.42' }], missing: null });
    });
    const provider = webProvider({ env: { API_KEY: 'k1' } });
    const answer = await provider.run({ url: `${url}/stats?d={{deployment}}`, path: '$.stats[0].p95', headers: { 'X-Api-Key': '${API_KEY}' } }, scope);
    expect(answer).toEqual({ resolved: `GET ${url}/stats?d=v2 $.stats[0].p95`, reading: { kind: 'value', value: 0.42 } });
    expect(seen).toEqual(['GET /stats?d=v2 k1']);
    expect((await provider.run({ url, path: '$.missing' }, scope)).reading).toMatchObject({ kind: 'noData' });
    expect((await provider.run({ url, path: "$['nothing']" }, scope)).reading).toMatchObject({ kind: 'noData' });
    expect((await provider.run({ url, path: '$.stats' }, scope)).reading).toMatchObject({ kind: 'error', message: /not a number/ });
    expect((await provider.run({ url, path: '$.x', headers: { a: '${NOPE}' } }, scope)).reading).toMatchObject({ kind: 'error', message: /NOPE/ });
  });

  it('POSTs a JSON body with placeholders filled in', async () => {
    let received = '';
    const url = await serve((req, res, body) => {
      received = `${req.method} ${req.headers['content-type']} ${body}`;
      json(res, 200, { value: 7 });
    });
    const reading = (await webProvider({ env: {} }).run({ url, path: '$.value', method: 'POST', body: { side: '{{deployment}}', n: 1 } }, scope)).reading;
    expect(reading).toEqual({ kind: 'value', value: 7 });
    expect(received).toBe('POST application/json {"side":"v2","n":1}');
  });

  it('errors on a 5xx answer with its first bytes', async () => {
    const url = await serve((_req, res) => res.writeHead(500).end('boom: stats backend down'));
    expect((await webProvider({ env: {} }).run({ url, path: '$.v' }, scope)).reading).toMatchObject({ kind: 'error', message: /HTTP 500.*boom/ });
  });
});

describe('JSON paths', () => {
  it('parses keys, indexes and quoted keys, and refuses the rest', () => {
    expect(parseJsonPath(`$.a.b[0]['c d']["e"]`)).toEqual(['a', 'b', 0, 'c d', 'e']);
    expect(parseJsonPath('$')).toEqual([]);
    expect(() => parseJsonPath('a.b')).toThrow(/start with \$/);
    expect(() => parseJsonPath('$.a[*]')).toThrow(/\[\*\]/);
    expect(readJsonPath({ a: [{ b: 2 }] }, ['a', 0, 'b'])).toBe(2);
    expect(readJsonPath({ a: 1 }, ['toString'])).toBeUndefined();
  });
});
