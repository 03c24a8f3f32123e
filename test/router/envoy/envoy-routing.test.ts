// The Envoy data plane behaves as the built-in one (the README's data-plane
// reference): real Envoy processes fed over xDS by a real routing core, real
// upstreams on loopback.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPlaneView } from '../../../router/envoy/envoy-plane.js';
import { SaferollError } from '../../../shared/errors.js';
import { startEnvoyTestRouter, waitFleetInSync } from '../../support/envoy.js';
import { startTestRouter, type TestRouter } from '../../support/router.js';
import { startUpstream, type TestUpstream } from '../../support/upstream.js';
import { waitFor } from '../../support/wait-for.js';

let r: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
let slow: TestUpstream;
let key: string;

async function succeeded(endpoint: string, name: string): Promise<void> {
  await waitFor(async () => (await r.admin.getDeployment(endpoint, name)).provisioningState === 'Succeeded', 20_000, `${name} Succeeded`);
}

/** Within `sds` binomial standard deviations of n * p. */
function withinBinomial(k: number, n: number, p: number, sds = 4.5): boolean {
  return Math.abs(k - n * p) <= sds * Math.sqrt(n * p * (1 - p));
}

beforeAll(async () => {
  r = await startEnvoyTestRouter({ upstreamTimeoutMs: 1_500 });
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  slow = await startUpstream('slow', { delayMs: 5_000 });
  await r.admin.putEndpoint('scoring', { authMode: 'key' });
  await r.admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await r.admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  await succeeded('scoring', 'blue');
  await succeeded('scoring', 'green');
  key = (await r.admin.getKeys('scoring')).primaryKey;
});

afterAll(async () => {
  await r?.close();
  await Promise.all([blue?.close(), green?.close(), slow?.close()]);
});

async function setTraffic(traffic: Record<string, number>, mirror: Record<string, number> = {}): Promise<void> {
  await r.admin.setTraffic('scoring', traffic, mirror);
  await waitFleetInSync(r.admin);
}

describe('the Envoy data plane', () => {
  it('lists its Envoy in GET /v1/dataplane with the config version it acknowledged', async () => {
    await setTraffic({ blue: 100 });
    const view = await r.admin.dataPlane<DataPlaneView>();
    expect(view.kind).toBe('envoy');
    expect(view.nodes).toHaveLength(1);
    const [node] = view.nodes;
    expect(node?.acknowledgedVersion).toBe(view.version);
    expect(node?.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Date.now() - Date.parse(node?.lastContact ?? '')).toBeLessThan(60_000);
    // A change gets a higher version.
    await setTraffic({ blue: 90, green: 10 });
    const after = await r.admin.dataPlane<DataPlaneView>();
    expect(Number(after.version)).toBeGreaterThan(Number(view.version));
  });

  it("refuses a missing, wrong or other endpoint key with the built-in plane's 401, and accepts either key", async () => {
    await setTraffic({ blue: 100 });
    const builtin = await startTestRouter();
    try {
      const expected = await builtin.call('nothing', { key: 'wrong' });
      for (const attempt of [
        { endpoint: 'scoring', key: undefined },
        { endpoint: 'scoring', key: 'wrong' },
        { endpoint: 'nothing', key },
      ]) {
        const answer = await r.call(attempt.endpoint, { key: attempt.key });
        expect(answer.status).toBe(401);
        expect(JSON.parse(answer.body)).toEqual(JSON.parse(expected.body));
      }
    } finally {
      await builtin.close();
    }
    const { secondaryKey } = await r.admin.getKeys('scoring');
    expect((await r.call('scoring', { key })).status).toBe(200);
    expect((await r.call('scoring', { key: secondaryKey })).status).toBe(200);
    expect((await r.call('scoring', { key, headers: { authorization: `bearer ${key}` } })).status).toBe(200);
  });

  it('takes the endpoint prefix off as the built-in plane does and forwards neither the key nor the deployment header', async () => {
    await setTraffic({ blue: 100 });
    await r.call('scoring', { key, path: '/v1/score?x=1' });
    expect(blue.lastRequest?.url).toBe('/v1/score?x=1');
    await r.call('scoring', { key, path: '' });
    expect(blue.lastRequest?.url).toBe('/');
    await r.call('scoring', { key, path: '/a/./b/../c' });
    expect(blue.lastRequest?.url).toBe('/a/c');
    await r.call('scoring', { key, path: '/x', headers: { 'x-saferoll-deployment': 'blue' } });
    expect(blue.lastRequest?.headers.authorization).toBeUndefined();
    expect(blue.lastRequest?.headers['x-saferoll-deployment']).toBeUndefined();
    // As built in: no request id made up, and a client's passed on as it is.
    expect(blue.lastRequest?.headers['x-request-id']).toBeUndefined();
    await r.call('scoring', { key, headers: { 'x-request-id': 'client-7' } });
    expect(blue.lastRequest?.headers['x-request-id']).toBe('client-7');
  });

  it('splits live traffic by weight, within a binomial tolerance (Envoy draws per request)', async () => {
    await setTraffic({ blue: 80, green: 20 });
    const n = 400;
    const seen = { blue: 0, green: 0 };
    for (let i = 0; i < n; i++) {
      const answer = await r.call('scoring', { key });
      expect(answer.status).toBe(200);
      seen[answer.deployment as 'blue' | 'green']++;
    }
    expect(seen.blue + seen.green).toBe(n);
    expect(withinBinomial(seen.green, n, 0.2)).toBe(true);
  });

  it('sends a request naming a deployment to it alone, and never mirrors it', async () => {
    await setTraffic({ blue: 100 }, { green: 50 });
    const greenBefore = green.hits;
    for (let i = 0; i < 40; i++) {
      const answer = await r.call('scoring', { key, headers: { 'x-saferoll-deployment': 'blue' } });
      expect(answer.deployment).toBe('blue');
    }
    const alias = await r.call('scoring', { key, headers: { 'azureml-model-deployment': 'green' } });
    expect(alias.status).toBe(200);
    expect(alias.deployment).toBe('green');
    expect(green.hits - greenBefore).toBe(1);
    const unknown = await r.call('scoring', { key, headers: { 'x-saferoll-deployment': 'nobody' } });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.code).toBe('SAFEROLL_E_NOT_FOUND');
  });

  it('mirrors its share to the mirror deployment, measured apart, without changing the answer', async () => {
    await setTraffic({ blue: 100 }, { green: 30 });
    const greenBefore = green.hits;
    const n = 300;
    for (let i = 0; i < n; i++) {
      const answer = await r.call('scoring', { key });
      expect(answer.deployment).toBe('blue');
    }
    const mirrored = await waitFor(
      async () => {
        const count = green.hits - greenBefore;
        const text = await r.admin.metricsText();
        const booked = Number(/saferoll_requests_total\{endpoint="scoring",deployment="green",traffic="mirror",code="200"\} (\d+)/.exec(text)?.[1] ?? 0);
        return booked > 0 && booked === count ? count : undefined;
      },
      10_000,
      'mirror copies booked',
    );
    expect(withinBinomial(mirrored, n, 0.3)).toBe(true);
  });

  it("answers 503 with the built-in plane's body when no deployment has live traffic", async () => {
    await r.admin.putEndpoint('quiet', { authMode: 'key' });
    await waitFleetInSync(r.admin);
    const quietKey = (await r.admin.getKeys('quiet')).primaryKey;
    const answer = await r.call('quiet', { key: quietKey });
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 'SAFEROLL_E_NO_TRAFFIC', message: 'endpoint "quiet" has no deployment with live traffic; set traffic with PATCH /v1/endpoints/quiet' },
    });
  });

  it('answers 504 when the deployment does not answer in time and 502 when it cannot be reached', async () => {
    await r.admin.putEndpoint('failing', { authMode: 'key' });
    await r.admin.putDeployment('failing', 'slow', { instanceCount: 1, upstreams: [slow.url] });
    const gone = await startUpstream('gone');
    await gone.close();
    await r.admin.putDeployment('failing', 'gone', { instanceCount: 1, upstreams: [gone.url] });
    await waitFor(async () => (await r.admin.listDeployments('failing')).every((d) => d.provisioningState === 'Succeeded'));
    const failingKey = (await r.admin.getKeys('failing')).primaryKey;
    await r.admin.setTraffic('failing', { slow: 100 });
    await waitFleetInSync(r.admin);
    const late = await r.call('failing', { key: failingKey });
    expect(late.status).toBe(504);
    expect(JSON.parse(late.body).error).toMatchObject({ code: 'SAFEROLL_E_UPSTREAM_TIMEOUT', deployment: 'slow' });
    await r.admin.setTraffic('failing', { gone: 100 });
    await waitFleetInSync(r.admin);
    const failed = await r.call('failing', { key: failingKey });
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.body).error).toMatchObject({ code: 'SAFEROLL_E_UPSTREAM', deployment: 'gone' });
    // Booked as Envoy counts them: a timeout as 504, an upstream it could not reach as 503 (the client gets 502).
    const metrics = await r.admin.metricsText();
    expect(metrics).toContain('saferoll_requests_total{endpoint="failing",deployment="slow",traffic="live",code="504"} 1');
    expect(metrics).toContain('saferoll_requests_total{endpoint="failing",deployment="gone",traffic="live",code="503"} 1');
  });
});

describe('instance health on the Envoy data plane', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'saferoll-envoy-health-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes an unhealthy instance out of routing and puts it back once ready', async () => {
    // Each instance answers with its port; /healthz fails while a file named after its port exists.
    const script = `const http=require('http');const fs=require('fs');const port=process.env.PORT;
http.createServer((q,s)=>{if(q.url==='/healthz'){s.writeHead(fs.existsSync(process.env.SICK_DIR+'/'+port)?503:200);s.end();return;}
q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end(JSON.stringify({port}));});}).listen(port,'127.0.0.1');`;
    const local = await startEnvoyTestRouter({ instanceIsolation: 'none' });
    try {
      await local.admin.putEndpoint('health', { authMode: 'key' });
      await local.admin.putDeployment('health', 'pair', {
        instanceCount: 2,
        process: { command: process.execPath, args: ['-e', script], env: { SICK_DIR: dir }, readinessPath: '/healthz' },
      });
      const ready = await waitFor(async () => {
        const d = await local.admin.getDeployment('health', 'pair');
        return d.provisioningState === 'Succeeded' ? d : undefined;
      }, 30_000);
      await local.admin.setTraffic('health', { pair: 100 });
      await waitFleetInSync(local.admin);
      const healthKey = (await local.admin.getKeys('health')).primaryKey;
      const ports = async (n: number): Promise<Set<string>> => {
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) seen.add(JSON.parse((await local.call('health', { key: healthKey })).body).port);
        return seen;
      };
      expect((await ports(20)).size).toBe(2);
      const sick = new URL(ready.instances[0]?.url ?? '').port;
      await writeFile(path.join(dir, sick), '');
      await waitFor(async () => (await local.admin.getDeployment('health', 'pair')).instances.some((i) => !i.healthy), 30_000, 'instance unhealthy');
      await waitFleetInSync(local.admin);
      expect([...(await ports(30))]).not.toContain(sick);
      await rm(path.join(dir, sick));
      await waitFor(async () => (await local.admin.getDeployment('health', 'pair')).instances.every((i) => i.healthy), 30_000, 'instance healthy again');
      await waitFleetInSync(local.admin);
      expect((await ports(20)).size).toBe(2);
    } finally {
      await local.close();
    }
  });
});

describe('shadow comparison with the Envoy data plane', () => {
  it('refuses mirrorCompare with a 400 naming the field, changing nothing; turning it off is accepted', async () => {
    const before = await r.admin.getEndpoint('scoring');
    const err = await r.admin.patchEndpoint('scoring', { mirrorCompare: { status: true } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SaferollError);
    expect(err).toMatchObject({
      code: 'SAFEROLL_E_VALIDATION',
      field: 'mirrorCompare',
      message: expect.stringMatching(/needs the builtin data plane.*runs envoy/),
    });
    const after = await r.admin.getEndpoint('scoring');
    expect(after.mirrorCompare).toBeUndefined();
    expect(after.updatedAt).toBe(before.updatedAt);
    await r.admin.patchEndpoint('scoring', { mirrorCompare: null });
  });
});

describe('stopping the router with the Envoy data plane', () => {
  it('lets a request in flight finish before its Envoys stop', async () => {
    const slowUpstream = await startUpstream('slow', { delayMs: 1_500 });
    const local = await startEnvoyTestRouter();
    try {
      await local.admin.putEndpoint('drain', { authMode: 'key' });
      await local.admin.putDeployment('drain', 'slow', { instanceCount: 1, upstreams: [slowUpstream.url] });
      await waitFor(async () => (await local.admin.getDeployment('drain', 'slow')).provisioningState === 'Succeeded');
      await local.admin.setTraffic('drain', { slow: 100 });
      const drainKey = (await local.admin.getKeys('drain')).primaryKey;
      const inFlight = local.call('drain', { key: drainKey });
      await waitFor(() => slowUpstream.hits > 0, 10_000, 'the request reached the upstream');
      await local.router.close();
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.deployment).toBe('slow');
    } finally {
      await local.close();
      await slowUpstream.close();
    }
  });
});
