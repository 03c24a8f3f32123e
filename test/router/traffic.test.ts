// The data plane's traffic handling over real sockets: weighted split,
// mirroring, header targeting, and what happens with no traffic.
import http from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactSnapshot } from '../../analysis/snapshot.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
let key: string;

async function sendMany(n: number, init: Parameters<TestRouter['call']>[1] = {}): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let batch = 0; batch < n; batch += 50) {
    const results = await Promise.all(Array.from({ length: Math.min(50, n - batch) }, () => t.call('scoring', { key, ...init })));
    for (const r of results) {
      expect(r.status).toBe(200);
      counts.set(r.deployment ?? '?', (counts.get(r.deployment ?? '?') ?? 0) + 1);
    }
  }
  return counts;
}

beforeAll(async () => {
  t = await startTestRouter();
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  await t.admin.putEndpoint('scoring', { authMode: 'key' });
  await t.admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await t.admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await t.admin.getDeployment('scoring', 'green')).provisioningState === 'Succeeded');
  key = (await t.admin.getKeys('scoring')).primaryKey;
});

afterAll(async () => {
  await t.close();
  await blue.close();
  await green.close();
});

describe('data plane traffic', () => {
  it('answers 503 with a clear message while no deployment has live traffic', async () => {
    await t.admin.setTraffic('scoring', {});
    const r = await t.call('scoring', { key });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.message).toMatch(/no deployment with live traffic/);
  });

  it('splits live traffic by weight (90/10 over 2000 requests) and names the deployment that answered', async () => {
    await t.admin.setTraffic('scoring', { blue: 90, green: 10 });
    const counts = await sendMany(2000);
    const greenShare = (counts.get('green') ?? 0) / 2000;
    // Binomial sd at p=0.1, n=2000 is 0.0067: 4 sd of tolerance.
    expect(Math.abs(greenShare - 0.1)).toBeLessThan(0.027);
    expect((counts.get('blue') ?? 0) + (counts.get('green') ?? 0)).toBe(2000);
  });

  it('proxies method, path, query, headers and body, and keeps the client key from the upstream', async () => {
    await t.admin.setTraffic('scoring', { blue: 100 });
    const r = await t.call('scoring', { key, method: 'PUT', path: '/v2/score?explain=true', body: 'payload', headers: { 'x-custom': 'abc' } });
    expect(r.status).toBe(200);
    expect(blue.lastRequest?.method).toBe('PUT');
    expect(blue.lastRequest?.url).toBe('/v2/score?explain=true');
    expect(blue.lastRequest?.body).toBe('payload');
    expect(blue.lastRequest?.headers['x-custom']).toBe('abc');
    expect(blue.lastRequest?.headers.authorization).toBeUndefined();
  });

  it('sends a request with x-saferoll-deployment (or azureml-model-deployment) to that deployment only, never mirrored', async () => {
    await t.admin.setTraffic('scoring', { blue: 100 }, {});
    const before = green.hits;
    const direct = await sendMany(20, { headers: { 'x-saferoll-deployment': 'green' } });
    expect(direct.get('green')).toBe(20);
    const alias = await t.call('scoring', { key, headers: { 'azureml-model-deployment': 'green' } });
    expect(alias.deployment).toBe('green');
    expect(green.hits - before).toBe(21);

    await t.admin.setTraffic('scoring', { green: 100 }, { blue: 50 });
    const blueBefore = blue.hits;
    await sendMany(20, { headers: { 'x-saferoll-deployment': 'green' } });
    expect(blue.hits).toBe(blueBefore);
    const unknown = await t.call('scoring', { key, headers: { 'x-saferoll-deployment': 'nope' } });
    expect(unknown.status).toBe(404);
  });

  it('copies the configured share to the mirror deployment; clients only ever see the live answer', async () => {
    await t.admin.setTraffic('scoring', { blue: 100 }, { green: 20 });
    const before = green.hits;
    const counts = await sendMany(1000);
    expect(counts.get('blue')).toBe(1000);
    await waitFor(() => green.hits - before >= 200, 10_000, 'mirror copies arrive');
    // The split is dealt exactly: 20 of every 100 requests are copied.
    expect(green.hits - before).toBe(200);
    const metrics = await t.admin.metricsText();
    expect(metrics).toMatch(/saferoll_requests_total\{endpoint="scoring",deployment="green",traffic="mirror",code="200"\} \d+/);
  });
});

describe('metrics', () => {
  it('renders one endpoint alone (?endpoint=) with exactly the numbers of the full exposition', async () => {
    await t.admin.setTraffic('scoring', { blue: 90, green: 10 }, {});
    await sendMany(200);
    const adminGet = async (path: string): Promise<string> =>
      (await request(`${t.router.adminUrl}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).body.text();
    const full = compactSnapshot(await adminGet('/metrics'), 'scoring', 0);
    const alone = compactSnapshot(await adminGet('/metrics?endpoint=scoring'), 'scoring', 0);
    expect(alone.deployments).toEqual(full.deployments);
    expect(alone.le).toEqual(full.le);
    expect(Object.keys(alone.deployments).sort()).toEqual(['blue', 'green']);
  });
});

describe('upstream failures', () => {
  it('counts an answer cut off mid-body as a 502 of the deployment, not a success', async () => {
    blue.behaviour = { breakMidBody: true };
    try {
      await t.admin.setTraffic('scoring', { blue: 100 }, {});
      await t.call('scoring', { key }).catch(() => undefined);
      await waitFor(async () => /deployment="blue",traffic="live",code="502"\} 1/.test(await t.admin.metricsText()), 10_000, 'cut-off answer counted as 502');
    } finally {
      blue.behaviour = {};
    }
  });

  it('forwards a request with Expect: 100-continue instead of failing it', async () => {
    await t.admin.setTraffic('scoring', { blue: 100 }, {});
    // undici (the test client) refuses this header itself, so use node:http as curl-like clients do.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = http.get(`${t.router.dataUrl}/scoring/score`, { headers: { authorization: `Bearer ${key}`, expect: '100-continue' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
    });
    expect(status).toBe(200);
  });
});

describe('client disconnects', () => {
  it('counts a client that hangs up before the answer apart (saferoll_client_aborts_total), never as an answer of the deployment', async () => {
    let release!: () => void;
    blue.behaviour = { hold: new Promise<void>((resolve) => (release = resolve)) };
    try {
      await t.admin.setTraffic('scoring', { blue: 100 }, {});
      const before = blue.hits;
      const answered = async (): Promise<number> => {
        const text = await t.admin.metricsText();
        let sum = 0;
        for (const m of text.matchAll(/saferoll_requests_total\{endpoint="scoring",deployment="blue",traffic="live",code="\d+"\} (\d+)/g)) sum += Number(m[1]);
        return sum;
      };
      const answeredBefore = await answered();
      const abort = new AbortController();
      const call = request(`${t.router.dataUrl}/scoring/score`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${key}` },
        signal: abort.signal,
      });
      await waitFor(() => blue.hits > before, 10_000, 'request reached blue');
      abort.abort();
      await call.catch(() => undefined);
      await waitFor(
        async () => /saferoll_client_aborts_total\{endpoint="scoring",deployment="blue",traffic="live"\} 1/.test(await t.admin.metricsText()),
        10_000,
        'client hang-up counted',
      );
      expect(await answered()).toBe(answeredBefore);
    } finally {
      release();
      blue.behaviour = {};
    }
  });
});

describe('mirror isolation', () => {
  it('a hung mirror deployment that finally answers 500 neither delays nor fails any client request', async () => {
    let release!: () => void;
    green.behaviour = { status: 500, hold: new Promise<void>((resolve) => (release = resolve)) };
    try {
      await t.admin.setTraffic('scoring', { blue: 100 }, { green: 50 });
      const before = green.hits;
      // Every client answer arrives while every mirror copy is still held
      // unanswered: had a client waited on its mirror, this would never complete.
      const counts = await sendMany(100);
      expect(counts.get('blue')).toBe(100);
      await waitFor(() => green.hits - before === 50, 10_000, 'all 50 mirror copies reach green');
      expect(await t.admin.metricsText()).not.toMatch(/traffic="mirror",code="500"/);
      release();
      await waitFor(async () => /traffic="mirror",code="500"\} 50/.test(await t.admin.metricsText()), 10_000, 'mirror 500s counted');
    } finally {
      green.behaviour = {};
      await t.admin.setTraffic('scoring', { blue: 100 }, {});
    }
  });
});
