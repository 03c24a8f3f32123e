// Builds the route table the data plane reads from the router state and the
// deployments' targets, keeping each endpoint's split counters across rebuilds.
import { ShadowComparator, type ShadowCompareSpec } from '../shared/shadow-compare.js';
import { deploymentKey, type RouterState } from './model.js';
import { EndpointRoutes, type DeploymentTarget, type RouteTable, type SplitCounters } from './route-table.js';
import { digestSecret } from './secret-compare.js';
import type { ShadowSetup } from './shadow/shadow-pair.js';

export class RouteBuilder {
  private readonly splitCounters = new Map<string, SplitCounters>();
  // Tables are rebuilt on every change; a spec is compiled once while it stays the same.
  private readonly comparators = new Map<string, { text: string; comparator: ShadowComparator }>();

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
      const shadow = mirrorTarget && endpoint.mirrorCompare ? this.shadowSetup(endpoint.name, endpoint.mirrorCompare, mirrorTarget) : undefined;
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
          shadow,
        ),
      );
    }
    for (const name of this.splitCounters.keys()) if (!table.has(name)) this.splitCounters.delete(name);
    for (const name of this.comparators.keys()) if (!table.has(name)) this.comparators.delete(name);
    return table;
  }

  private shadowSetup(endpoint: string, spec: ShadowCompareSpec, target: DeploymentTarget): ShadowSetup {
    const text = JSON.stringify(spec);
    let compiled = this.comparators.get(endpoint);
    if (compiled?.text !== text) {
      compiled = { text, comparator: new ShadowComparator(spec) };
      this.comparators.set(endpoint, compiled);
    }
    return { comparator: compiled.comparator, metrics: target.shadow, diffs: target.shadowDiffs };
  }
}
