// `saferoll start` with custom checks on Prometheus: a Prometheus that does
// not answer refuses the rollout with exit 3 before anything else is touched
// (Temporal and the router here are unreachable ports, so reaching them would
// say so instead); one that answers lets start go on to Temporal.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { prometheusOffline } from '../../analysis/providers/prometheus-online.js';
import { runCli } from '../support/cli.js';

let dir: string;
let prometheus: Server;
let promUrl: string;
let closedUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-start-prom-'));
  prometheus = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: query === 'vector(1)' ? [{ metric: {}, value: [1, '1'] }] : [] } }));
  });
  await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
  promUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  prometheus?.closeAllConnections();
  await new Promise((resolve) => prometheus?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function policyWith(address: string, sourceAddress?: string): Promise<string> {
  const file = path.join(dir, `p-${address.split(':').at(-1)}-${sourceAddress === undefined ? 'router' : 'prom'}.yaml`);
  const text = [
    'name: prom',
    'slo: { errorRate: 1% }',
    'analysis:',
    ...(sourceAddress === undefined ? [] : [`  source: { prometheus: { address: '${sourceAddress}' } }`]),
    '  metrics:',
    `    - { name: accuracy, prometheus: { query: 'avg(model_accuracy{deployment="{{deployment}}"})', address: '${address}' }, min: 0.9 }`,
    'steps:',
    '  - create: {}',
    '  - mirror: { percent: 10, for: 1m }',
    '',
  ].join('\n');
  await writeFile(file, text);
  return file;
}

const START = ['start', '--endpoint', 'scoring', '--green', 'green', '--upstream', 'http://127.0.0.1:9'];
const UNREACHABLE = { TEMPORAL_ADDRESS: '127.0.0.1:9', SAFEROLL_ROUTER_URL: 'http://127.0.0.1:9' };

describe('saferoll start checks every Prometheus the policy reads first', () => {
  test('down: exit 3, naming the address and the checks, nothing started', async () => {
    const result = await runCli([...START, '--policy', await policyWith(closedUrl)], UNREACHABLE);
    expect(result.code).toBe(3);
    expect(result.output).toMatch(
      new RegExp(`Prometheus at ${closedUrl} \\(read by custom check accuracy\\) does not answer: Prometheus: cannot reach .*; nothing started`),
    );
    expect(result.output).not.toMatch(/Temporal/);
  });

  test('the Prometheus of analysis.source is checked too: down, exit 3 naming it', async () => {
    const result = await runCli([...START, '--policy', await policyWith(promUrl, closedUrl)], UNREACHABLE);
    expect(result.code).toBe(3);
    expect(result.output).toMatch(
      new RegExp(`Prometheus at ${closedUrl} \\(read by analysis.source\\) does not answer: Prometheus: cannot reach .*; nothing started`),
    );
    expect(result.output).not.toMatch(/Temporal/);
  });

  test('up: start goes on (here to a Temporal that is not there)', async () => {
    const result = await runCli([...START, '--policy', await policyWith(promUrl)], UNREACHABLE);
    expect(result.code).toBe(3);
    expect(result.output).not.toMatch(/Prometheus at/);
    expect(result.output).toMatch(/Temporal/);
  });

  test('prometheusOffline: an answer of vector(1) is online, anything else says why', async () => {
    expect(await prometheusOffline(promUrl)).toBeUndefined();
    expect(await prometheusOffline(closedUrl)).toMatch(/cannot reach/);
  });
});

describe('saferoll validate refuses a bad custom check', () => {
  test('an unknown placeholder: exit 2, at file:line:col', async () => {
    const file = path.join(dir, 'bad-placeholder.yaml');
    await writeFile(
      file,
      [
        'name: p',
        'slo: { errorRate: 1% }',
        'analysis:',
        '  metrics:',
        '    - { name: a, prometheus: { query: "x{d=\\"{{side}}\\"}" }, max: 1 }',
        'steps:',
        '  - create: {}',
        '',
      ].join('\n'),
    );
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(2);
    expect(result.output).toContain(`${file}:5:39: analysis.metrics.0.prometheus.query: unknown placeholder {{side}}`);
  });
});
