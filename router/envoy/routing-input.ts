// What the Envoy data plane renders, read from the routing core: per
// endpoint its keys, live split, mirror share and deployments with their
// ready instances. Read whole on every xDS poll (a few endpoints, cheap), so
// every change the registry makes, including an instance turning ready or
// unhealthy, reaches Envoy without a hook into the registry.
import type { Registry } from '../registry.js';
import type { MirrorShedCounter, TrafficKind, TrafficMetrics } from '../metrics.js';
import { generationOf } from './cluster-names.js';

export interface DeploymentInput {
  name: string;
  generation: string;
  /** Base URLs of the ready instances (what the built-in plane picks from). */
  readyUrls: readonly string[];
  metrics: Readonly<Record<TrafficKind, TrafficMetrics>>;
  mirrorShed: MirrorShedCounter;
}

export interface EndpointInput {
  name: string;
  keys: readonly [string, string];
  /** Deployments with live traffic and their percent, in the order of the endpoint's traffic map. */
  live: ReadonlyArray<readonly [string, number]>;
  mirror?: { deployment: string; percent: number } | undefined;
  deployments: readonly DeploymentInput[];
}

export function readRouting(registry: Registry): EndpointInput[] {
  const table = registry.routes();
  const endpoints: EndpointInput[] = [];
  for (const view of registry.listEndpoints()) {
    const routes = table.get(view.name);
    if (!routes) continue;
    const keys = registry.getKeys(view.name);
    const created = new Map(registry.listDeployments(view.name).map((d) => [d.name, d.createdAt]));
    const deployments: DeploymentInput[] = [];
    for (const [name, target] of routes.byName) {
      deployments.push({
        name,
        generation: generationOf(created.get(name) ?? ''),
        readyUrls: target.provider.readyUrls(),
        metrics: target.metrics,
        mirrorShed: target.mirrorShed,
      });
    }
    const live = Object.entries(view.traffic).filter(([name, percent]) => percent > 0 && routes.byName.has(name));
    const mirrorEntry = Object.entries(view.mirrorTraffic).find(([name, percent]) => percent > 0 && routes.byName.has(name));
    endpoints.push({
      name: view.name,
      keys: [keys.primaryKey, keys.secondaryKey],
      live,
      mirror: mirrorEntry ? { deployment: mirrorEntry[0], percent: mirrorEntry[1] } : undefined,
      deployments,
    });
  }
  return endpoints;
}
