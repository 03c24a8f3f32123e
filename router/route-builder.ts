// Builds the route table the data plane reads from the router state and the
// deployments' targets, keeping each endpoint's split counters across rebuilds.
import { deploymentKey, type RouterState } from './model.js';
import { EndpointRoutes, type DeploymentTarget, type RouteTable, type SplitCounters } from './route-table.js';
import { digestSecret } from './secret-compare.js';

export class RouteBuilder {
  private readonly splitCounters = new Map<string, SplitCounters>();

  /** A fresh table for `state`; deployments being deleted get no routes. */
  build(state: RouterState, targets: ReadonlyMap<string, DeploymentTarget>): RouteTable {
    const table = new Map<string, EndpointRoutes>();
    for (const endpoint of state.endpoints.values()) {
      const byName = new Map<string, DeploymentTarget>();
      for (const record of state.deployments.values()) {
        if (record.endpoint !== endpoint.name || record.provisioningState === 'Deleting') continue;
        const target = targets.get(deploymentKey(record.endpoint, record.name));
        if (target) byName.set(record.name, target);
      }
      const mirrorEntry = [...endpoint.mirrorTraffic].find(([, percent]) => percent > 0);
      const mirrorTarget = mirrorEntry ? byName.get(mirrorEntry[0]) : undefined;
      let counters = this.splitCounters.get(endpoint.name);
      if (!counters) {
        counters = { live: 0, mirror: 0 };
        this.splitCounters.set(endpoint.name, counters);
      }
      table.set(
        endpoint.name,
        new EndpointRoutes(
          endpoint.name,
          [digestSecret(endpoint.keys.primary), digestSecret(endpoint.keys.secondary)],
          endpoint.traffic,
          mirrorTarget && mirrorEntry ? { target: mirrorTarget, percent: mirrorEntry[1] } : undefined,
          byName,
          counters,
        ),
      );
    }
    for (const name of this.splitCounters.keys()) if (!table.has(name)) this.splitCounters.delete(name);
    return table;
  }
}
