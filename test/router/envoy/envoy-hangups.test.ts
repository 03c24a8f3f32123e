// Client hang-ups on the Envoy data plane, counted as the built-in plane
// counts them (test/router/honest-measurement.test.ts): only a client that
// left after the deployment had the whole request and before its answer
// began. Not a client that left mid-upload or while its request waited for a
// connection, not an upstream timeout (a 504 answer), never on the mirror.
// Read as a gate reads them: /metrics?endpoint= through RouterMetricSource.
import { setMaxListeners } from 'node:events';
import type { Server } from 'node:http';
import http2 from 'node:http2';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterMetricSource } from '../../../analysis/router-metric-source.js';
import { compactSnapshot } from '../../../analysis/snapshot.js';
import { measureWindow } from '../../../analysis/window.js';
import type { TickWindows } from '../../../activities/types.js';
import { renderBootstrap } from '../../../router/envoy/bootstrap.js';
import { envoyBinary } from '../../../router/envoy/envoy-binary.js';
import { freePort } from '../../../shared/free-port.js';
import { gateRules, judgeTick } from '../../../workflows/gate-decision.js';
import { guardRules, guardWindows, isBreach } from '../../../workflows/guard-decision.js';
import { testPolicy } from '../../support/rollout-fixture.js';
import { startEnvoyTestRouter, waitFleetInSync } from '../../support/envoy.js';
import { TEST_ADMIN_TOKEN, type TestRouter } from '../../support/router.js';
import { startHeldAnswer, startUpstream, type TestUpstream } from '../../support/upstream.js';
import { waitFor } from '../../support/wait-for.js';

const UPSTREAM_TIMEOUT_MS = 2_000;
const FOREVER = new Promise<void>(() => undefined);
// The one endpoint whose live cluster has a single upstream connection, so a second request waits for it.
const QUEUED = 'queued';

let r: TestRouter;
let source: RouterMetricSource;
const upstreams: TestUpstream[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  r = await startEnvoyTestRouter({
    upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS,
    envoy: {
      xdsPort: 0,
      replicas: 1,
      // One worker: every request shares one connection pool (Envoy gives each worker's pool a connection of its own).
      concurrency: 1,
      transformResources: (rendered) => ({
        ...rendered,
        clusters: rendered.clusters.map((cluster) => {
          const c = cluster as { name: string };
          return c.name.startsWith(`sr~${QUEUED}~`) ? { ...c, circuit_breakers: { thresholds: [{ max_connections: 1 }] } } : c;
        }),
      }),
    },
  });
  source = new RouterMetricSource(r.router.adminUrl, TEST_ADMIN_TOKEN);
});

afterAll(async () => {
  await r?.close();
  await Promise.all(upstreams.map((u) => u.close()));
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function upstream(name: string, behaviour: Parameters<typeof startUpstream>[1] = {}): Promise<TestUpstream> {
  const started = await startUpstream(name, behaviour);
  upstreams.push(started);
  return started;
}

async function endpointWith(
  endpoint: string,
  deployments: Record<string, string>,
  traffic: Record<string, number>,
  mirror: Record<string, number> = {},
): Promise<string> {
  await r.admin.putEndpoint(endpoint, { authMode: 'key' });
  for (const [name, url] of Object.entries(deployments)) await r.admin.putDeployment(endpoint, name, { instanceCount: 1, upstreams: [url] });
  await waitFor(async () => (await r.admin.listDeployments(endpoint)).every((d) => d.provisioningState === 'Succeeded'));
  await r.admin.setTraffic(endpoint, traffic, mirror);
  await waitFleetInSync(r.admin, 1);
  return (await r.admin.getKeys(endpoint)).primaryKey;
}

async function metricsText(endpoint?: string): Promise<string> {
  const answer = await request(`${r.router.adminUrl}/metrics${endpoint ? `?endpoint=${endpoint}` : ''}`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  return answer.body.text();
}

/**
 * `n` clients at once on connections of their own, each giving up without an
 * answer once the deployment has every request whole (`arrived`), as
 * clients with a 300 ms timeout give up on a deployment that never answers.
 */
async function clientsGiveUp(endpoint: string, key: string, n: number, arrived: () => boolean, headers: Record<string, string> = {}): Promise<void> {
  const giveUp = new AbortController();
  setMaxListeners(n, giveUp.signal);
  const outcomes = Promise.allSettled(
    Array.from({ length: n }, () =>
      request(`${r.router.dataUrl}/${endpoint}/score`, {
        method: 'POST',
        body: '{"x":1}',
        headers: { authorization: `Bearer ${key}`, ...headers },
        signal: giveUp.signal,
        reset: true,
      }).then((answer) => answer.body.text()),
    ),
  );
  await waitFor(arrived, 10_000, `${n} whole requests at the deployment`);
  giveUp.abort();
  expect((await outcomes).every((o) => o.status === 'rejected')).toBe(true);
}

/** Declares a body (20 bytes, or chunked of unknown length), sends a part of it, and hangs up. */
async function hangUpMidBody(endpoint: string, key: string, chunked: boolean): Promise<void> {
  const { port } = new URL(r.router.dataUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const framing = chunked ? 'transfer-encoding: chunked\r\n\r\n5\r\n' : 'content-length: 20\r\n\r\n';
  const head = `POST /${endpoint}/score HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\n${framing}`;
  await new Promise<void>((resolve, reject) => socket.write(`${head}{"x":`, (err) => (err ? reject(err) : resolve())));
  socket.destroy();
}

/**
 * Hang-ups Envoy booked for one deployment's live cluster whose request it
 * never sent whole (`sent` empty), read from the Envoys themselves: what the
 * routing core must leave out.
 */
async function unsentHangUps(endpoint: string, deployment: string): Promise<number> {
  let total = 0;
  for (const replica of r.router.envoy?.fleet.running() ?? []) {
    const text = await (await request(`${replica.adminUrl}/stats?format=prometheus&filter=${encodeURIComponent('^saferoll\\.client_hangups\\.')}`)).body.text();
    const re = new RegExp(`^envoy_saferoll_client_hangups\\{saferoll_cluster="sr~${endpoint}~${deployment}~live~[^"]+",sent=""\\} (\\d+)$`, 'm');
    total += Number(re.exec(text)?.[1] ?? 0);
  }
  return total;
}

function abortsLine(endpoint: string, deployment: string, traffic: string, n: number): string {
  return `saferoll_client_aborts_total{endpoint="${endpoint}",deployment="${deployment}",traffic="${traffic}"} ${n}`;
}

describe('a green that never answers', () => {
  it("counts its clients' hang-ups per deployment and kind of traffic, in /metrics and /metrics?endpoint=, and alone at 100% (the watch window) its guard fails on them", async () => {
    const green = await upstream('hanging-green', { hold: FOREVER });
    const key = await endpointWith('hanging', { green: green.url }, { green: 100 });
    const start = await source.snapshot('hanging');
    expect(start.countsAborts).toBe(true);

    await clientsGiveUp('hanging', key, 8, () => green.hits === 8);
    await clientsGiveUp('hanging', key, 3, () => green.hits === 11, { 'x-saferoll-deployment': 'green' });
    const end = await waitFor(
      async () => {
        const s = await source.snapshot('hanging');
        return s.deployments.green?.live?.aborts === 8 && s.deployments.green.direct?.aborts === 3 ? s : undefined;
      },
      10_000,
      'hang-ups booked',
    );
    // Hang-ups, never answers: no request count, so no latency or error sample.
    expect(end.deployments.green?.live).toMatchObject({ count: 0, errors: 0, aborts: 8 });
    const full = await metricsText();
    expect(full).toContain(abortsLine('hanging', 'green', 'live', 8));
    expect(full).toContain(abortsLine('hanging', 'green', 'direct', 3));
    expect(full).not.toMatch(/saferoll_requests_total\{endpoint="hanging"/);
    expect(await metricsText('hanging')).toContain(abortsLine('hanging', 'green', 'live', 8));

    // What the workflow's guard does with it (the gate's abortRate check).
    const green8 = measureWindow(start, end, 'green', 'live');
    expect(green8).toMatchObject({ requests: 0, aborts: 8 });
    const windows: TickWindows = { greenStep: green8, greenInterval: green8 };
    const status = { traffic: { blue: 0, green: 100 } };
    const rules = { ...gateRules(testPolicy()), minRequests: 5 };
    const { report } = judgeTick(guardRules(rules, status), guardWindows(windows, status), 0);
    expect(report.phase).toBe('Failed');
    expect(isBreach(report)).toBe(true);
    expect(report.summary).toMatch(/^failed: client aborts 100\.0% > 5% FAILED \(8\/8, >= /);
  });

  it('an HTTP/2 client that cancels its stream (the connection stays open) hangs up too', async () => {
    const green = await upstream('h2-hanging-green', { hold: FOREVER });
    const key = await endpointWith('h2-hanging', { green: green.url }, { green: 100 });
    const session = http2.connect(r.router.dataUrl);
    try {
      for (let i = 1; i <= 2; i++) {
        const stream = session.request({ ':method': 'POST', ':path': '/h2-hanging/score', authorization: `Bearer ${key}` });
        stream.on('error', () => undefined);
        stream.end('{"x":1}');
        await waitFor(() => green.hits === i, 10_000, 'the request at the deployment');
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
      await waitFor(async () => (await source.snapshot('h2-hanging')).deployments.green?.live?.aborts === 2, 10_000, 'both hang-ups booked');
    } finally {
      session.close();
    }
  });

  it('a client that waits out the upstream timeout gets a 504, booked as an answer of the deployment, not as a hang-up', async () => {
    const green = await upstream('timing-out-green', { hold: FOREVER });
    const key = await endpointWith('timing-out', { green: green.url }, { green: 100 });
    const answers = await Promise.all([r.call('timing-out', { key }), r.call('timing-out', { key })]);
    expect(answers.map((a) => a.status)).toEqual([504, 504]);
    const snapshot = await waitFor(
      async () => {
        const s = await source.snapshot('timing-out');
        return s.deployments.green?.live?.count === 2 ? s : undefined;
      },
      10_000,
      'the 504s booked',
    );
    expect(snapshot.countsAborts).toBe(true);
    expect(snapshot.deployments.green?.live).toMatchObject({ count: 2, errors: 2 });
    expect(snapshot.deployments.green?.live?.aborts).toBeUndefined();
    const text = await metricsText('timing-out');
    expect(text).toContain('saferoll_requests_total{endpoint="timing-out",deployment="green",traffic="live",code="504"} 2');
    expect(text).not.toContain('saferoll_client_aborts_total{');
  });
});

describe('not hang-ups of the deployment', () => {
  it('a client that leaves after the answer headers arrived: booked with the status the deployment answered', async () => {
    const held = await startHeldAnswer();
    servers.push(held.server);
    const key = await endpointWith('leave-late', { blue: held.url }, { blue: 100 });
    try {
      const giveUp = new AbortController();
      const answer = await request(`${r.router.dataUrl}/leave-late/score`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${key}` },
        signal: giveUp.signal,
        reset: true,
      });
      expect(answer.statusCode).toBe(201);
      giveUp.abort(); // the client has the headers and leaves before the body ends
      await answer.body.text().catch(() => undefined);
      await waitFor(() => held.dropped(), 10_000, 'Envoy dropped the upstream request');
      const snapshot = await waitFor(
        async () => {
          const s = await source.snapshot('leave-late');
          return s.deployments.blue?.live?.count === 1 ? s : undefined;
        },
        10_000,
        'the answer booked',
      );
      expect(snapshot.deployments.blue?.live?.aborts).toBeUndefined();
      expect(await metricsText('leave-late')).toContain('saferoll_requests_total{endpoint="leave-late",deployment="blue",traffic="live",code="201"} 1');
    } finally {
      held.release();
    }
  });

  it('clients that hang up mid-upload (declared length, or chunked), though Envoy streams their body upstream', async () => {
    const green = await upstream('uploaded-green', { hold: FOREVER });
    const key = await endpointWith('mid-upload', { green: green.url }, { green: 100 });
    await hangUpMidBody('mid-upload', key, false);
    await hangUpMidBody('mid-upload', key, true);
    // Envoy saw both leave: booked apart, as never sent whole.
    await waitFor(async () => (await unsentHangUps('mid-upload', 'green')) === 2, 10_000, 'both hang-ups seen by Envoy');
    const snapshot = await source.snapshot('mid-upload');
    expect(snapshot.countsAborts).toBe(true);
    expect(snapshot.deployments.green?.live?.aborts).toBeUndefined();
    expect(await metricsText('mid-upload')).not.toContain('saferoll_client_aborts_total{');
  });

  it('a client that leaves while its request waits for a connection to the deployment', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const green = await upstream('busy-green', { hold: held });
    const key = await endpointWith(QUEUED, { green: green.url }, { green: 100 });
    try {
      // The first request holds the cluster's only connection; the second waits for it, and its client leaves.
      const first = r.call(QUEUED, { key });
      await waitFor(() => green.hits === 1, 10_000, 'the first request at the deployment');
      const giveUp = new AbortController();
      const second = request(`${r.router.dataUrl}/${QUEUED}/score`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${key}` },
        signal: giveUp.signal,
        reset: true,
      });
      // Envoy has it (it is in the cluster's pending queue) before the client leaves.
      await waitFor(
        async () => {
          const replica = r.router.envoy?.fleet.running()[0];
          const text = await (
            await request(`${replica?.adminUrl}/stats?filter=${encodeURIComponent(`^cluster\\.sr~${QUEUED}~green~live~[^.]+\\.upstream_rq_pending_active$`)}`)
          ).body.text();
          return /: 1$/m.test(text);
        },
        10_000,
        'the second request waiting for a connection',
      );
      giveUp.abort();
      await expect(second).rejects.toThrow();
      await waitFor(async () => (await unsentHangUps(QUEUED, 'green')) === 1, 10_000, 'the hang-up seen by Envoy');
      release();
      expect((await first).status).toBe(200);
      const snapshot = await waitFor(
        async () => {
          const s = await source.snapshot(QUEUED);
          return s.deployments.green?.live?.count === 1 ? s : undefined;
        },
        10_000,
        'the first answer booked',
      );
      expect(snapshot.deployments.green?.live?.aborts).toBeUndefined();
      expect(green.hits).toBe(1);
    } finally {
      release();
    }
  });

  it('mirror copies: a hang-up on a live request is blue’s, never the mirrored green’s', async () => {
    const blue = await upstream('hanging-blue', { hold: FOREVER });
    const green = await upstream('mirrored-green');
    const key = await endpointWith('mirrored', { blue: blue.url, green: green.url }, { blue: 100 }, { green: 50 });
    await clientsGiveUp('mirrored', key, 16, () => blue.hits === 16);
    const snapshot = await waitFor(
      async () => {
        const s = await source.snapshot('mirrored');
        return s.deployments.blue?.live?.aborts === 16 && green.hits > 0 && s.deployments.green?.mirror?.count === green.hits ? s : undefined;
      },
      10_000,
      'hang-ups and mirror answers booked',
    );
    expect(snapshot.deployments.green?.mirror).toMatchObject({ errors: 0 });
    expect(snapshot.deployments.green?.mirror?.aborts).toBeUndefined();
    expect(snapshot.deployments.green?.live).toBeUndefined();
    const text = await metricsText('mirrored');
    expect(text).toContain(abortsLine('mirrored', 'blue', 'live', 16));
    expect(text).not.toMatch(/saferoll_client_aborts_total\{endpoint="mirrored",deployment="green"/);
    // As analysis/window.ts reads it: a hang-up figure for live traffic, none for the mirror.
    expect(measureWindow(undefined, snapshot, 'blue', 'live').aborts).toBe(16);
    expect(measureWindow(undefined, snapshot, 'green', 'mirror').aborts).toBeUndefined();
  });
});

describe('which Envoys count', () => {
  it('an Envoy started from an older bootstrap (no hang-up count) leaves the family out while its counts are in the totals: unknown, never short', async () => {
    const blue = await upstream('older-blue');
    const key = await endpointWith('older', { blue: blue.url }, { blue: 100 });
    expect(compactSnapshot(await metricsText('older'), 'older', 0).countsAborts).toBe(true);

    // A real Envoy joins the fleet from a bootstrap as saferoll printed it before hang-ups were counted.
    const [port, adminPort] = [await freePort(), await freePort()];
    const bootstrap = renderBootstrap({
      nodeId: 'older-envoy',
      xdsUrl: r.router.envoy?.xdsUrl ?? '',
      adminHost: '127.0.0.1',
      adminPort,
      host: '127.0.0.1',
      port,
      upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS,
      announcedAdminUrl: `http://127.0.0.1:${adminPort}`,
    }) as {
      node: { metadata: Record<string, unknown> };
      static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Record<string, unknown> }> }> }> };
    };
    delete bootstrap.node.metadata.saferoll_counts_hangups;
    delete bootstrap.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.access_log;
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-older-envoy-'));
    const file = path.join(dir, 'older.json');
    await writeFile(file, JSON.stringify(bootstrap));
    const older = spawn(envoyBinary(), ['-c', file, '--disable-hot-restart', '--log-level', 'warn', '--concurrency', '1'], { stdio: 'ignore' });
    try {
      await waitFleetInSync(r.admin, 2);
      const answer = await request(`http://127.0.0.1:${port}/older/score`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${key}` } });
      expect(answer.statusCode).toBe(200);
      await answer.body.dump();
      // Its answer is in the totals; a hang-up of its clients would not be: the family is left out.
      const text = await waitFor(
        async () => {
          const t = await metricsText('older');
          return compactSnapshot(t, 'older', 0).deployments.blue?.live?.count === 1 ? t : undefined;
        },
        10_000,
        'its answer read',
      );
      expect(text).not.toContain('# TYPE saferoll_client_aborts_total');
      expect(text).toContain('\nsaferoll_client_aborts_counted 0\n');
      expect(compactSnapshot(text, 'older', 0).countsAborts).toBeUndefined();
      expect(await metricsText()).not.toContain('# TYPE saferoll_client_aborts_total');
    } finally {
      older.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
    // Gone, its run's counts stay in the totals, so the family stays out.
    expect(await metricsText('older')).not.toContain('# TYPE saferoll_client_aborts_total');
  });
});
