// The xDS server's versioning, driven by discovery requests as Envoy sends
// them over REST (no Envoy here: the order of polls is what is under test,
// and a real Envoy hits each order only now and then).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RouterMetrics } from '../../../router/metrics.js';
import { FleetNodes } from '../../../router/envoy/fleet-nodes.js';
import type { EndpointInput } from '../../../router/envoy/routing-input.js';
import { XdsServer } from '../../../router/envoy/xds-server.js';

let endpoints: EndpointInput[] = [];
const nodes = new FleetNodes(() => undefined);
const xds = new XdsServer({ routing: () => endpoints, nodes, upstreamTimeoutMs: 1_000 });
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer(xds.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function endpointWithBlue(): EndpointInput {
  const metrics = new RouterMetrics();
  return {
    name: 'scoring',
    keys: ['k1', 'k2'],
    live: [['blue', 100]],
    deployments: [
      {
        name: 'blue',
        generation: '1',
        readyUrls: ['http://127.0.0.1:9'],
        mirrorShed: metrics.shedCounter('scoring', 'blue'),
        metrics: {
          live: metrics.forTraffic('scoring', 'blue', 'live'),
          mirror: metrics.forTraffic('scoring', 'blue', 'mirror'),
          direct: metrics.forTraffic('scoring', 'blue', 'direct'),
        },
      },
    ],
  };
}

/** What the node runs after this poll; `text` is empty when the server answered 304 (it keeps the version it asked with). */
async function poll(kind: 'clusters' | 'routes', versionInfo: string): Promise<{ version: string; text: string; status: number }> {
  const answer = await request(`${base}/v3/discovery:${kind}`, {
    method: 'POST',
    body: JSON.stringify({ version_info: versionInfo, node: { id: 'n1' }, resource_names: kind === 'routes' ? ['saferoll'] : [] }),
  });
  if (answer.statusCode === 304) {
    await answer.body.dump();
    return { version: versionInfo, text: '', status: 304 };
  }
  const body = (await answer.body.json()) as { version_info: string };
  return { version: body.version_info, text: JSON.stringify(body), status: answer.statusCode };
}

it('never sends a node routes older than those it has, and says it is in sync only once it runs the newest', async () => {
  const first = await poll('clusters', '');
  expect((await poll('routes', '')).version).toBe(first.version);
  endpoints = [endpointWithBlue()];
  const latest = xds.latest().version;
  expect(Number(latest)).toBeGreaterThan(Number(first.version));
  // Its routes poll comes before it acknowledged any clusters (startup order): it gets the newest.
  const newest = await poll('routes', first.version);
  expect(newest.version).toBe(latest);
  expect(newest.text).toContain('sr~scoring~blue~live~1');
  expect((await poll('clusters', first.version)).version).toBe(latest);
  // It runs the newest routes but acknowledged only the old clusters so far: it keeps the newest routes.
  expect((await poll('routes', latest)).version).toBe(latest);
  expect(nodes.view(latest)[0]?.inSync).toBe(false);
  await poll('clusters', latest);
  expect(nodes.view(latest)[0]?.inSync).toBe(true);
});

it('holds back routes that name a cluster the node does not run yet', async () => {
  const before = xds.latest().version;
  endpoints = [{ ...endpointWithBlue(), deployments: [...endpointWithBlue().deployments, { ...endpointWithBlue().deployments[0]!, name: 'green' }] }];
  const latest = xds.latest().version;
  expect((await poll('routes', before)).version).toBe(before);
  await poll('clusters', before);
  expect((await poll('routes', before)).version).toBe(before);
  // Once its clusters poll acknowledged the new clusters, the routes follow.
  await poll('clusters', latest);
  expect((await poll('routes', before)).version).toBe(latest);
});

it('answers 304 to a node that asks with the version it would be sent, and the whole config once that changes', async () => {
  const current = xds.latest().version;
  await poll('clusters', current);
  await poll('routes', current);
  // Unchanged: no body for Envoy to parse, validate and hash again (it keeps what it runs), for both kinds.
  const clusters = await poll('clusters', current);
  const routes = await poll('routes', current);
  expect([clusters.status, clusters.text, routes.status, routes.text]).toEqual([304, '', 304, '']);
  expect(nodes.view(current)[0]?.inSync).toBe(true);
  endpoints = [{ ...endpointWithBlue(), keys: ['k3', 'k4'] }];
  const changed = await poll('clusters', current);
  expect(changed.status).toBe(200);
  const newRoutes = await poll('routes', current);
  expect(newRoutes.status).toBe(200);
  expect(Number(newRoutes.version)).toBeGreaterThan(Number(current));
  expect(newRoutes.text).toContain('k3');
});
