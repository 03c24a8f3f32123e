// The readCustomMetrics activity with the real providers against one loopback
// server that answers as Prometheus's HTTP API (/api/v1/query) and as a JSON
// stats page (/stats): green for every check, blue only where a baseline rule
// compares them, each with the query as sent; errors come back as readings.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomMetricActivities } from '../../activities/custom-metrics.js';
import { prometheusProvider } from '../../analysis/providers/prometheus.js';
import { webProvider } from '../../analysis/providers/web.js';

let server: Server;
let base: string;
const ACCURACY: Record<string, string> = { v2: '0.85', v1: '0.95' };

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1/query') {
      const query = url.searchParams.get('query') ?? '';
      const side = /deployment="(\w+)"/.exec(query)?.[1] ?? '';
      if (query.startsWith('broken')) return res.writeHead(400).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
      const result = ACCURACY[side] === undefined ? [] : [{ metric: {}, value: [1, ACCURACY[side]] }];
      return res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    }
    if (url.pathname === '/stats') return res.end(JSON.stringify({ p95: url.searchParams.get('d') === 'v2' ? 0.31 : 0.3 }));
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('readCustomMetrics', () => {
  it('reads green, and blue for baseline rules, over the window it is given', async () => {
    const { readCustomMetrics } = createCustomMetricActivities({ prometheus: prometheusProvider({ env: {} }), web: webProvider({ env: {} }) });
    const readings = await readCustomMetrics({
      endpoint: 'chat',
      green: 'v2',
      blue: 'v1',
      windowMs: 45_000,
      intervalMs: 5_000,
      metrics: [
        {
          name: 'accuracy',
          prometheus: { query: 'avg_over_time(acc{deployment="{{deployment}}"}[{{window}}])', address: base },
          min: 0.9,
          baseline: { maxDrop: 0.01 },
        },
        { name: 'p95', web: { url: `${base}/stats?d={{deployment}}&e={{endpoint}}`, path: '$.p95' }, max: 0.5 },
        { name: 'gone', prometheus: { query: 'x{deployment="none"}', address: base }, max: 1 },
        { name: 'broken', prometheus: { query: 'broken(', address: base }, max: 1 },
      ],
    });
    expect(readings).toEqual([
      { name: 'accuracy', side: 'green', resolved: 'avg_over_time(acc{deployment="v2"}[45s])', reading: { kind: 'value', value: 0.85 } },
      { name: 'accuracy', side: 'blue', resolved: 'avg_over_time(acc{deployment="v1"}[45s])', reading: { kind: 'value', value: 0.95 } },
      { name: 'p95', side: 'green', resolved: `GET ${base}/stats?d=v2&e=chat $.p95`, reading: { kind: 'value', value: 0.31 } },
      { name: 'gone', side: 'green', resolved: 'x{deployment="none"}', reading: { kind: 'noData', reason: 'no data: the query returned no series' } },
      { name: 'broken', side: 'green', resolved: 'broken(', reading: { kind: 'error', message: 'Prometheus: HTTP 400: bad_data: parse error' } },
    ]);
  });
});
