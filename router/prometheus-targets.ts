// Prometheus HTTP service discovery (`http_sd_configs`): the routing core
// itself and every instance of each deployment that has a metricsPath, as
// target groups labelled with their endpoint and deployment. Built from the
// registry's views at each request (Prometheus asks every few seconds, not
// per data-plane request).
import type { DeploymentView, EndpointView } from './views.js';

/** One target group of the http_sd format. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** What the router's admin API serves its own /metrics on; scraping it takes the admin token. */
export const ROUTER_METRICS_PATH = '/metrics';

/** `saferoll_role` tells a scrape job which targets are its own: the router's need the admin token, the instances' must never get it. */
export type TargetRole = 'router' | 'instance';

export interface TargetSources {
  /** host:port of the router's admin API as Prometheus reaches it. */
  routerAddress: string;
  endpoints: readonly EndpointView[];
  deployments(endpoint: string): readonly DeploymentView[];
}

/**
 * Every instance the deployment has, ready or not, except stopped ones:
 * Prometheus marks an instance that does not answer as `up == 0` itself, and
 * an instance that drops out of the list while it restarts would hide exactly
 * that. No readiness label either: target labels become series labels, so a
 * flapping readiness would split one instance's series in two.
 */
export function prometheusTargets(sources: TargetSources): TargetGroup[] {
  const groups: TargetGroup[] = [{ targets: [sources.routerAddress], labels: { saferoll_role: 'router', __metrics_path__: ROUTER_METRICS_PATH } }];
  for (const endpoint of sources.endpoints) {
    for (const deployment of sources.deployments(endpoint.name)) {
      if (deployment.metricsPath === undefined) continue;
      for (const instance of deployment.instances) {
        if (instance.state === 'stopped') continue;
        const url = new URL(instance.url);
        groups.push({
          targets: [url.host],
          labels: {
            saferoll_role: 'instance',
            endpoint: endpoint.name,
            deployment: deployment.name,
            saferoll_instance: instance.id,
            __metrics_path__: deployment.metricsPath,
            __scheme__: url.protocol.slice(0, -1),
          },
        });
      }
    }
  }
  return groups;
}
