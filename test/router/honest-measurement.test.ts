// What the data plane books for a gate, over real sockets: only answers a
// deployment gave, timed from the request fully sent to the answer's headers.
// Client hang-ups are counted apart, and a slow client's upload is not the
// deployment's time. Windows are read as a gate reads them: snapshots of
// /metrics?endpoint= through RouterMetricSource, then measureWindow.
import { setMaxListeners } from 'node:events';
import http, { type Server } from 'node:http';
import net from 'node:net';
import { setTimeout as pause } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateGate } from '../../analysis/evaluate.js';
import { RouterMetricSource } from '../../analysis/router-metric-source.js';
import type { MetricsSnapshot } from '../../analysis/snapshot.js';
import { measureWindow } from '../../analysis/window.js';
import { gateRules, judgeTick } from '../../workflows/gate-decision.js';
import type { TickWindows } from '../../activities/types.js';
import { guardRules, guardWindows, isBreach } from '../../workflows/guard-decision.js';
import { testPolicy } from '../support/rollout-fixture.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startHeldAnswer, startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let source: RouterMetricSource;
const upstreams: TestUpstream[] = [];
const servers: Server[] = [];

async function endpointWith(
  endpoint: string,
  deployments: Record<string, string>,
  traffic: Record<string, number>,
  mirror: Record<string, number> = {},
): Promise<string> {
  await t.admin.putEndpoint(endpoint, { authMode: 'key' });
  for (const [name, url] of Object.entries(deployments)) await t.admin.putDeployment(endpoint, name, { instanceCount: 1, upstreams: [url] });
  await waitFor(async () => (await t.admin.listDeployments(endpoint)).every((d) => d.provisioningState === 'Succeeded'));
  await t.admin.setTraffic(endpoint, traffic, mirror);
  return (await t.admin.getKeys(endpoint)).primaryKey;
}

async function endpointText(endpoint: string): Promise<string> {
  const answer = await request(`${t.router.adminUrl}/metrics?endpoint=${endpoint}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return answer.body.text();
}

function abortsIn(text: string, endpoint: string, deployment: string): number {
  const m = new RegExp(`saferoll_client_aborts_total\\{endpoint="${endpoint}",deployment="${deployment}",traffic="live"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

function answersIn(text: string, endpoint: string, deployment: string): Map<string, number> {
  const byCode = new Map<string, number>();
  const re = new RegExp(`saferoll_requests_total\\{endpoint="${endpoint}",deployment="${deployment}",traffic="live",code="(\\d+)"\\} (\\d+)`, 'g');
  for (const m of text.matchAll(re)) byCode.set(m[1] as string, Number(m[2]));
  return byCode;
}

/** Waits until the router has booked `n` more requests (answers or hang-ups) for the deployment. */
async function settled(endpoint: string, deployment: string, n: number): Promise<string> {
  return waitFor(
    async () => {
      const text = await endpointText(endpoint);
      const answers = [...answersIn(text, endpoint, deployment).values()].reduce((a, b) => a + b, 0);
      return answers + abortsIn(text, endpoint, deployment) >= n ? text : undefined;
    },
    10_000,
    `${n} requests booked for ${endpoint}/${deployment}`,
  );
}

/** Declares a body (20 bytes, or chunked of unknown length), sends a part of it, and hangs up. */
async function hangUpMidBody(endpoint: string, key: string, chunked = false): Promise<void> {
  const { port } = new URL(t.router.dataUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const framing = chunked ? 'transfer-encoding: chunked\r\n\r\n5\r\n' : 'content-length: 20\r\n\r\n';
  const head = `POST /${endpoint}/score HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\n${framing}`;
  await new Promise<void>((resolve, reject) => socket.write(`${head}{"x":`, (err) => (err ? reject(err) : resolve())));
  socket.destroy();
}

interface SlowUpload {
  chunks: number;
  chunkBytes: number;
  gapMs: number;
  /** Sends content-length; without it, node:http sends the body chunked. */
  declareLength: boolean;
}

/** A client on a slow link: the body goes out in pieces over `chunks * gapMs`. Resolves with the status. */
async function slowUpload(endpoint: string, key: string, upload: SlowUpload, startInMs: number): Promise<number> {
  await pause(startInMs);
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' };
  if (upload.declareLength) headers['content-length'] = String(upload.chunks * upload.chunkBytes);
  const answer = new Promise<number>((resolve, reject) => {
    const req = http.request(`${t.router.dataUrl}/${endpoint}/score`, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    void (async () => {
      for (let i = 0; i < upload.chunks; i++) {
        if (i > 0) await pause(upload.gapMs); // the client's pace, not a wait on the system under test
        req.write(Buffer.alloc(upload.chunkBytes, 0x61));
      }
      req.end();
    })();
  });
  return answer;
}

beforeAll(async () => {
  t = await startTestRouter();
  source = new RouterMetricSource(t.router.adminUrl, TEST_ADMIN_TOKEN);
});

afterAll(async () => {
  await t.close();
  for (const upstream of upstreams) await upstream.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe('a green so slow that its clients hang up', () => {
  const rules = { ...gateRules(testPolicy()), minRequests: 5 }; // the workflow's rules, abort-rate defaults included
  const FOREVER = new Promise<void>(() => undefined);

  /** What measureWindows hands the gate: green's and blue's live windows since `start`. */
  async function tickWindows(endpoint: string, start: MetricsSnapshot): Promise<TickWindows> {
    const now = await source.snapshot(endpoint);
    const green = measureWindow(start, now, 'green', 'live');
    const blue = measureWindow(start, now, 'blue', 'live');
    return { greenStep: green, greenInterval: green, blueStep: blue, blueInterval: blue };
  }

  /**
   * `n` clients at once that give up without an answer's headers, as clients
   * with a 300 ms timeout do: once every request has reached its deployment
   * whole (`arrived`), so none is left mid-way on a busy machine (a client
   * gone before that is, rightly, not a hang-up of the deployment).
   */
  async function impatientClients(endpoint: string, key: string, n: number, arrived: () => boolean): Promise<void> {
    const giveUp = new AbortController();
    setMaxListeners(n, giveUp.signal);
    const outcomes = Promise.allSettled(
      Array.from({ length: n }, () =>
        request(`${t.router.dataUrl}/${endpoint}/score`, {
          method: 'POST',
          body: '{}',
          headers: { authorization: `Bearer ${key}` },
          signal: giveUp.signal,
        }).then((r) => r.body.text()),
      ),
    );
    await waitFor(arrived, 10_000, `${n} requests at their deployments`);
    giveUp.abort();
    expect((await outcomes).filter((o) => o.status === 'rejected').length).toBeGreaterThan(0);
  }

  it('alone at 100% (the watch window), a green that never answers fails its guard on hang-ups alone', async () => {
    const green = await startUpstream('hanging-green', { hold: FOREVER });
    upstreams.push(green);
    const key = await endpointWith('hanging-alone', { green: green.url }, { green: 100 });
    const start = await source.snapshot('hanging-alone');

    await impatientClients('hanging-alone', key, 8, () => green.hits === 8);
    const text = await settled('hanging-alone', 'green', 8);
    expect(answersIn(text, 'hanging-alone', 'green')).toEqual(new Map());

    const status = { traffic: { blue: 0, green: 100 } };
    const { report } = judgeTick(guardRules(rules, status), guardWindows(await tickWindows('hanging-alone', start), status), 0);
    expect(report.phase).toBe('Failed');
    expect(isBreach(report)).toBe(true);
    expect(report.greenRequests).toBe(0);
    expect(report.summary).toMatch(/^failed: client aborts 100\.0% > 5% FAILED \(8\/8, >= /);
  });

  it('next to a healthy blue (a canary waiting for approval), the same green fails against blue, both counts in the report', async () => {
    const green = await startUpstream('hanging-green', { hold: FOREVER });
    const blue = await startUpstream('blue');
    upstreams.push(green, blue);
    const key = await endpointWith('hanging-canary', { blue: blue.url, green: green.url }, { blue: 50, green: 50 });
    const start = await source.snapshot('hanging-canary');

    await impatientClients('hanging-canary', key, 24, () => green.hits + blue.hits === 24);
    await waitFor(
      async () => {
        const text = await endpointText('hanging-canary');
        const blueAnswers = [...answersIn(text, 'hanging-canary', 'blue').values()].reduce((a, b) => a + b, 0);
        return blueAnswers + abortsIn(text, 'hanging-canary', 'green') === 24 ? true : undefined;
      },
      10_000,
      '24 requests booked',
    );
    const windows = await tickWindows('hanging-canary', start);
    expect(windows.greenStep).toMatchObject({ requests: 0, aborts: expect.any(Number) });
    expect(windows.blueStep).toMatchObject({ errors: 0, aborts: 0 });

    const status = { traffic: { blue: 50, green: 50 } };
    const { report } = judgeTick(guardRules(rules, status), guardWindows(windows, status), 0);
    const aborts = windows.greenStep.aborts ?? 0;
    expect(report.phase).toBe('Failed');
    expect(report.summary).toContain(`client aborts 100.0% > 5% FAILED (${aborts}/${aborts} vs blue 0/${windows.blueStep?.requests ?? 0}, >= `);
  });
});

describe('client hang-ups', () => {
  it('clients hanging up mid-body on a dead green are neither answers nor hang-ups of green; its real requests fail it', async () => {
    const green = await startUpstream('green');
    const key = await endpointWith('dead-green', { green: green.url }, { green: 100 });
    await green.close(); // crashed right after it was created: nothing listens there any more
    const start = await source.snapshot('dead-green');

    // Each client leaves before its body is whole: green never had a request to answer.
    for (let i = 0; i < 8; i++) await hangUpMidBody('dead-green', key);
    for (let i = 0; i < 5; i++) expect((await t.call('dead-green', { key })).status).toBe(502);
    const text = await settled('dead-green', 'green', 5);
    expect(answersIn(text, 'dead-green', 'green')).toEqual(new Map([['502', 5]]));
    expect(abortsIn(text, 'dead-green', 'green')).toBe(0);
    const judged = measureWindow(start, await source.snapshot('dead-green'), 'green', 'live');
    expect(judged).toMatchObject({ requests: 5, errors: 5, aborts: 0 });
    expect(evaluateGate({ minRequests: 5, p95Ms: 250, errorRate: 0.01, abortRate: 0.05 }, judged).phase).toBe('Failed');
  });

  it('clients that hang up mid-upload to a live deployment (body read whole, or streamed) are not hang-ups of the deployment, nor answers or 5xx', async () => {
    const blue = await startUpstream('blue');
    upstreams.push(blue);
    const key = await endpointWith('leave-early', { blue: blue.url }, { blue: 100 });
    for (let i = 0; i < 4; i++) await hangUpMidBody('leave-early', key, i % 2 === 1);
    // One answered request after them: once it is booked, the hang-ups before it have been handled too.
    expect((await t.call('leave-early', { key })).status).toBe(200);
    const text = await settled('leave-early', 'blue', 1);
    expect(answersIn(text, 'leave-early', 'blue')).toEqual(new Map([['200', 1]]));
    expect(abortsIn(text, 'leave-early', 'blue')).toBe(0);
  });

  it('a client that hangs up after the answer headers arrived is booked with the status the deployment answered', async () => {
    const held = await startHeldAnswer();
    servers.push(held.server);
    const key = await endpointWith('leave-late', { blue: held.url }, { blue: 100 });
    try {
      const abort = new AbortController();
      const answer = await request(`${t.router.dataUrl}/leave-late/score`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${key}` },
        signal: abort.signal,
      });
      expect(answer.statusCode).toBe(201);
      abort.abort(); // the client has the headers and leaves before the body ends
      await answer.body.text().catch(() => undefined);
      const text = await settled('leave-late', 'blue', 1);
      expect(answersIn(text, 'leave-late', 'blue')).toEqual(new Map([['201', 1]]));
      expect(abortsIn(text, 'leave-late', 'blue')).toBe(0);
    } finally {
      held.release();
    }
  });
});

describe('latency is the deployment time, not the client upload', () => {
  let key: string;
  let copy: TestUpstream;

  beforeAll(async () => {
    const fast = await startUpstream('fast', { delayMs: 1 });
    copy = await startUpstream('copy', { delayMs: 1 });
    upstreams.push(fast, copy);
    key = await endpointWith('uploads', { fast: fast.url, copy: copy.url }, { fast: 100 }, { copy: 50 });
    // Warms the router up (first connections, compiled code); this request is in no window.
    expect((await t.call('uploads', { key })).status).toBe(200);
  });

  async function uploadWindow(clients: number, upload: SlowUpload): Promise<{ live: ReturnType<typeof measureWindow>; start: MetricsSnapshot }> {
    const start = await source.snapshot('uploads');
    // Staggered like real clients (one every 50 ms), so no burst of bodies ends at once.
    const statuses = await Promise.all(Array.from({ length: clients }, async (_, i) => slowUpload('uploads', key, upload, i * 50)));
    expect(statuses).toEqual(Array.from({ length: clients }, () => 200));
    return { live: measureWindow(start, await source.snapshot('uploads'), 'fast', 'live'), start };
  }

  it('a 20-byte body uploaded over 0.6 s to a 1 ms deployment records a p95 under 50 ms (mirror copies too)', async () => {
    const copiesBefore = copy.hits;
    const { live, start } = await uploadWindow(20, { chunks: 4, chunkBytes: 5, gapMs: 200, declareLength: true });
    expect(live.requests).toBe(20);
    expect(live.p95Ms).not.toBeNull();
    expect(live.p95Ms as number).toBeLessThan(50);
    // The mirrored copies (half of the requests) are timed the same way.
    const mirrored = await waitFor(
      async () => {
        const w = measureWindow(start, await source.snapshot('uploads'), 'copy', 'mirror');
        return w.requests >= 8 && w.requests === copy.hits - copiesBefore ? w : undefined;
      },
      10_000,
      'mirror copies booked',
    );
    expect(mirrored.p95Ms as number).toBeLessThan(50);
  });

  it('a streamed body (chunked) uploaded over 0.6 s records a p95 under 50 ms', async () => {
    const { live } = await uploadWindow(20, { chunks: 4, chunkBytes: 5, gapMs: 200, declareLength: false });
    expect(live.requests).toBe(20);
    expect(live.p95Ms as number).toBeLessThan(50);
  });

  it('a streamed body over 64 KiB uploaded over 0.6 s records a p95 under 50 ms', async () => {
    const { live } = await uploadWindow(20, { chunks: 4, chunkBytes: 24 * 1024, gapMs: 200, declareLength: true });
    expect(live.requests).toBe(20);
    expect(live.p95Ms as number).toBeLessThan(50);
  });
});
