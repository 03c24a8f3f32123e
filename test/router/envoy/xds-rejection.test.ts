// A config Envoy rejects (NACK) is reported by the routing core, and Envoy
// keeps serving the last one it accepted.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DataPlaneView } from '../../../router/envoy/envoy-plane.js';
import type { RenderedResources } from '../../../router/envoy/resources.js';
import { startEnvoyTestRouter, waitFleetInSync } from '../../support/envoy.js';
import type { TestRouter } from '../../support/router.js';
import { startUpstream, type TestUpstream } from '../../support/upstream.js';
import { waitFor } from '../../support/wait-for.js';

let r: TestRouter;
let blue: TestUpstream;
let green: TestUpstream;
const sabotage = { on: false };

// A route Envoy refuses (a regular expression RE2 cannot compile), added while `sabotage.on`.
function breakRoutes(resources: RenderedResources): RenderedResources {
  if (!sabotage.on) return resources;
  const routes = resources.routes as { virtual_hosts: Array<{ routes: unknown[] }> };
  const host = routes.virtual_hosts[0];
  if (!host) return resources;
  const broken = { match: { safe_regex: { regex: '(unclosed' } }, direct_response: { status: 200 } };
  return { ...resources, routes: { ...routes, virtual_hosts: [{ ...host, routes: [broken, ...host.routes] }] } };
}

beforeAll(async () => {
  r = await startEnvoyTestRouter({ envoy: { xdsPort: 0, transformResources: breakRoutes } });
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  await r.admin.putEndpoint('scoring', { authMode: 'key' });
  await r.admin.putDeployment('scoring', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await r.admin.putDeployment('scoring', 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await r.admin.listDeployments('scoring')).every((d) => d.provisioningState === 'Succeeded'));
  await r.admin.setTraffic('scoring', { blue: 100 });
  await waitFleetInSync(r.admin);
});

afterAll(async () => {
  await r?.close();
  await Promise.all([blue?.close(), green?.close()]);
});

it('shows a rejected config in GET /v1/dataplane while Envoy keeps routing with the one it had', async () => {
  const { primaryKey } = await r.admin.getKeys('scoring');
  const before = await r.admin.dataPlane<DataPlaneView>();
  sabotage.on = true;
  await r.admin.setTraffic('scoring', { green: 100 });
  const rejected = await waitFor(
    async () => {
      const view = await r.admin.dataPlane<DataPlaneView>();
      const why = view.nodes[0]?.rejected?.message;
      return why && !why.startsWith('rejected (reading') ? view : undefined;
    },
    20_000,
    'the rejection reported, with its reason',
  );
  const node = rejected.nodes[0];
  expect(node?.rejected).toMatchObject({ kind: 'routes', version: rejected.version });
  expect(node?.rejected?.message).toMatch(/unclosed|missing \)|regex/i);
  expect(node?.inSync).toBe(false);
  expect(node?.acknowledged.routes).toBe(before.version);
  // The old routes still serve: blue, not the green the rejected config would send to.
  for (let i = 0; i < 10; i++) expect((await r.call('scoring', { key: primaryKey })).deployment).toBe('blue');

  sabotage.on = false;
  const healed = await waitFleetInSync(r.admin);
  expect(healed.nodes[0]?.rejected).toBeNull();
  expect((await r.call('scoring', { key: primaryKey })).deployment).toBe('green');
});
