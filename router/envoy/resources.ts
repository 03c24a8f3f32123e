// Renders the routing core's state as Envoy v3 resources (JSON, as the
// REST-JSON xDS API carries them): one cluster per deployment and kind of
// traffic, and one route configuration that does what the built-in data plane
// does: key check, deployment header, live split, mirror, the endpoint prefix
// stripped. The same input always renders the same text, so the xDS server
// can tell a change by comparing strings.
import { DEPLOYMENT_HEADER, DEPLOYMENT_HEADER_ALIAS } from '../../shared/contracts.js';
import { clusterName, TRAFFIC_KINDS } from './cluster-names.js';
import type { DeploymentInput, EndpointInput } from './routing-input.js';

export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const ROUTE_CONFIG_NAME = 'saferoll';

/** The built-in data plane's answers, byte for byte (router/data-plane.ts). */
export const UNAUTHORIZED_BODY = JSON.stringify({
  error: { code: 'SAFEROLL_E_UNAUTHORIZED', message: 'missing or invalid endpoint key (Authorization: Bearer <key>)' },
});
const HEALTHZ_BODY = JSON.stringify({ status: 'ok' });
// Never forwarded, as in the built-in plane: the client's key and our routing headers.
const REMOVED_REQUEST_HEADERS = ['authorization', DEPLOYMENT_HEADER, DEPLOYMENT_HEADER_ALIAS];
/**
 * Mirror copies in flight per Envoy beyond this are shed (Envoy counts them in
 * the mirror cluster's upstream_rq_pending_overflow, booked as
 * saferoll_mirror_shed_total), as the built-in plane sheds beyond 256.
 */
export const MAX_MIRROR_IN_FLIGHT = 256;
/** Copies that may wait for a connection of the mirror cluster (one being opened) before more are shed. */
const MIRROR_PENDING = 16;
// Live and direct traffic is never refused by Envoy's circuit breakers (whose defaults, 1024, would answer 503 under load).
const UNLIMITED = 1_000_000_000;

export interface RenderedResources {
  clusters: unknown[];
  routes: unknown;
  /** Every cluster the route configuration names (what must exist before it is sent). */
  routeClusters: string[];
}

export interface RenderOptions {
  upstreamTimeoutMs: number;
}

export function renderResources(endpoints: readonly EndpointInput[], options: RenderOptions): RenderedResources {
  const clusters: unknown[] = [];
  const routeClusters = new Set<string>();
  const routes: unknown[] = [
    {
      name: 'healthz',
      match: { path: '/healthz' },
      direct_response: { status: 200, body: { inline_string: HEALTHZ_BODY } },
      response_headers_to_add: [jsonType()],
    },
  ];
  for (const endpoint of endpoints) {
    for (const deployment of endpoint.deployments) {
      for (const kind of TRAFFIC_KINDS) clusters.push(renderCluster(endpoint.name, deployment, kind));
    }
    routes.push(...endpointRoutes(endpoint, options, routeClusters));
  }
  // Anything else: a missing or wrong key, or no such endpoint, answered alike.
  routes.push({
    name: 'unauthorized',
    match: { prefix: '/' },
    direct_response: { status: 401, body: { inline_string: UNAUTHORIZED_BODY } },
    response_headers_to_add: [jsonType(), header('www-authenticate', 'Bearer')],
  });
  const routeConfig = {
    '@type': ROUTE_TYPE,
    name: ROUTE_CONFIG_NAME,
    virtual_hosts: [{ name: 'saferoll', domains: ['*'], routes }],
  };
  return { clusters, routes: routeConfig, routeClusters: [...routeClusters].sort() };
}

function endpointRoutes(endpoint: EndpointInput, options: RenderOptions, used: Set<string>): unknown[] {
  const name = endpoint.name;
  const byName = new Map(endpoint.deployments.map((d) => [d.name, d]));
  // `/e`, `/e/...` and `/e?...`; the endpoint prefix is taken off as the built-in plane does (`/e` -> `/`, `/e/x` -> `/x`).
  // Envoy stops at a route's first header that does not match: the deployment header's cheap checks come before
  // the key's regular expression, so a request runs that expression once (on the route that takes it), not once
  // per route tried (7 times for live traffic: 6% of Envoy's instructions per request, measured with callgrind).
  const match = (...headers: unknown[]): unknown => ({ path_separated_prefix: `/${name}`, headers: [...headers, keyMatcher(endpoint.keys)] });
  const forward = {
    regex_rewrite: { pattern: { regex: `^/${name}(/|$)` }, substitution: '/' },
    timeout: `${options.upstreamTimeoutMs / 1000}s`,
    auto_host_rewrite: true,
  };
  const out: unknown[] = [];
  const cluster = (deployment: DeploymentInput, kind: 'live' | 'mirror' | 'direct'): string => {
    const id = clusterName({ endpoint: name, deployment: deployment.name, kind, generation: deployment.generation });
    used.add(id);
    return id;
  };
  // A deployment named in the header: that deployment only, never mirrored.
  for (const [headerName, absent] of [
    [DEPLOYMENT_HEADER, undefined],
    [DEPLOYMENT_HEADER_ALIAS, DEPLOYMENT_HEADER],
  ] as const) {
    const notPrimary = absent === undefined ? [] : [{ name: absent, present_match: false }];
    for (const deployment of endpoint.deployments) {
      out.push({
        name: `${name}/direct/${deployment.name}/${headerName}`,
        match: match({ name: headerName, string_match: { exact: deployment.name } }, ...notPrimary),
        route: { ...forward, cluster: cluster(deployment, 'direct') },
        request_headers_to_remove: REMOVED_REQUEST_HEADERS,
        response_headers_to_add: [header(DEPLOYMENT_HEADER, deployment.name)],
      });
    }
    out.push({
      name: `${name}/direct/unknown/${headerName}`,
      match: match({ name: headerName, string_match: { safe_regex: { regex: '.+' } } }, ...notPrimary),
      direct_response: {
        status: 404,
        body: {
          inline_string: JSON.stringify({
            error: { code: 'SAFEROLL_E_NOT_FOUND', message: `the deployment named in ${headerName} does not exist on endpoint "${name}"` },
          }),
        },
      },
      response_headers_to_add: [jsonType()],
    });
  }
  const live = endpoint.live.flatMap(([deployment, percent]) => {
    const target = byName.get(deployment);
    return target ? [{ target, percent }] : [];
  });
  if (live.length === 0) {
    out.push({
      name: `${name}/no-traffic`,
      match: match(),
      direct_response: {
        status: 503,
        body: {
          inline_string: JSON.stringify({
            error: {
              code: 'SAFEROLL_E_NO_TRAFFIC',
              message: `endpoint "${name}" has no deployment with live traffic; set traffic with PATCH /v1/endpoints/${name}`,
            },
          }),
        },
      },
      response_headers_to_add: [jsonType()],
    });
    return out;
  }
  const mirrorTarget = endpoint.mirror ? byName.get(endpoint.mirror.deployment) : undefined;
  out.push({
    name: `${name}/live`,
    match: match(),
    route: {
      ...forward,
      weighted_clusters: {
        clusters: live.map(({ target, percent }) => ({
          name: cluster(target, 'live'),
          weight: percent,
          response_headers_to_add: [header(DEPLOYMENT_HEADER, target.name)],
        })),
      },
      ...(mirrorTarget && endpoint.mirror
        ? {
            request_mirror_policies: [
              {
                cluster: cluster(mirrorTarget, 'mirror'),
                runtime_fraction: { default_value: { numerator: endpoint.mirror.percent, denominator: 'HUNDRED' } },
                disable_shadow_host_suffix_append: true,
              },
            ],
          }
        : {}),
    },
    request_headers_to_remove: REMOVED_REQUEST_HEADERS,
  });
  return out;
}

// Either key, after `Bearer ` in any case (as the built-in plane's bearerToken reads it).
// Keys are base64url, so they need no escaping in a regular expression.
function keyMatcher(keys: readonly [string, string]): unknown {
  return { name: 'authorization', string_match: { safe_regex: { regex: `^(?i:bearer) +(?:${keys[0]}|${keys[1]})\\s*$` } } };
}

function renderCluster(endpoint: string, deployment: DeploymentInput, kind: 'live' | 'mirror' | 'direct'): unknown {
  const name = clusterName({ endpoint, deployment: deployment.name, kind, generation: deployment.generation });
  const urls = deployment.readyUrls.map((url) => new URL(url));
  const tls = urls.length > 0 && urls.every((url) => url.protocol === 'https:');
  const literal = urls.every((url) => isIpLiteral(url.hostname));
  return {
    '@type': CLUSTER_TYPE,
    name,
    type: literal ? 'STATIC' : 'STRICT_DNS',
    ...(literal ? {} : { dns_lookup_family: 'V4_PREFERRED' }),
    connect_timeout: '5s',
    lb_policy: 'ROUND_ROBIN',
    circuit_breakers: { thresholds: [kind === 'mirror' ? circuitLimits(MAX_MIRROR_IN_FLIGHT, MIRROR_PENDING) : circuitLimits(UNLIMITED, UNLIMITED)] },
    // An unhealthy instance is left out: Envoy then routes only to the ready ones, or answers 503 (no ready instance).
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: urls.map((url) => ({
            endpoint: {
              address: { socket_address: { address: unbracket(url.hostname), port_value: portOf(url) } },
              hostname: url.host,
            },
          })),
        },
      ],
    },
    ...(tls
      ? {
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              sni: unbracket(urls[0]?.hostname ?? ''),
            },
          },
        }
      : {}),
  };
}

function circuitLimits(active: number, pending: number): unknown {
  return { max_connections: active, max_pending_requests: pending, max_requests: active, max_retries: 3 };
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
}

function header(key: string, value: string): unknown {
  return { header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

function jsonType(): unknown {
  return header('content-type', 'application/json');
}
