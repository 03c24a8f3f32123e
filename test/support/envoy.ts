// A routing core with the Envoy data plane (real Envoy processes from
// scripts/install-envoy.sh, or $SAFEROLL_ENVOY_BIN) and waits on its fleet:
// tests send traffic only once every Envoy runs the current config.
import type { DataPlaneView } from '../../router/envoy/envoy-plane.js';
import type { RouterOptions } from '../../router/server.js';
import type { AdminClient } from '../../router/client.js';
import { startTestRouter, type TestRouter } from './router.js';
import { waitFor } from './wait-for.js';

export async function startEnvoyTestRouter(options: Partial<RouterOptions> = {}): Promise<TestRouter> {
  return startTestRouter({
    dataPlane: 'envoy',
    ...options,
    envoy: { xdsPort: 0, readyTimeoutMs: 30_000, ...options.envoy },
  });
}

/** Waits until every Envoy of the fleet (at least `replicas`) acknowledged the routing core's current config. */
export async function waitFleetInSync(admin: AdminClient, replicas = 1, timeoutMs = 20_000): Promise<DataPlaneView> {
  return waitFor(
    async () => {
      const view = await admin.dataPlane<DataPlaneView>();
      const live = view.nodes.filter((n) => n.lastContact !== '');
      return live.length >= replicas && live.every((n) => n.inSync) ? view : undefined;
    },
    timeoutMs,
    'every Envoy runs the current config',
  );
}
