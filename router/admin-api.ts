// The admin REST API (its own port, loopback by default, bearer token):
// endpoints, deployments, traffic, keys, logs, and /metrics. Inputs are
// validated with zod; every error is `{ error: { code, message, field? } }`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SaferollError, isSaferollError } from '../shared/errors.js';
import { readJsonBody, sendError, sendJson } from './http-util.js';
import type { RouterMetrics } from './metrics.js';
import { prometheusTargets } from './prometheus-targets.js';
import type { Registry } from './registry.js';
import {
  deploymentPatchBody,
  deploymentPutBody,
  endpointPatchBody,
  endpointName as endpointNameSchema,
  endpointPutBody,
  parseBody,
  regenerateKeyBody,
  resourceName,
} from './schemas.js';
import { bearerToken, digestSecret, matchesAny } from './secret-compare.js';
import { LOG_LINES } from '../shared/contracts.js';

export interface AdminApiOptions {
  registry: Registry;
  metrics: RouterMetrics;
  adminToken: string;
  /** Where the admin API listens, once it does: the router's own scrape target in Prometheus service discovery. */
  listenAddress?: () => AddressInfo | string | null;
  /**
   * A data plane other than the built-in one: brings the series up to date
   * before /metrics, describes itself, and tells when a change is applied
   * (a change of routes or keys is answered then).
   */
  dataPlane?: { beforeMetrics(): Promise<void>; view(): unknown; applied(): Promise<void> } | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const SEGMENT = '([^/]+)';

export function createAdminHandler(options: AdminApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, metrics } = options;
  const tokenDigest = [digestSecret(options.adminToken)];

  const routes: Route[] = [];
  const on = (method: string, path: string, handler: Handler): void => {
    routes.push({ method, pattern: new RegExp(`^${path.replaceAll(':p', SEGMENT)}$`), handler });
  };

  on('GET', '/metrics', async (_req, res, _params, query) => {
    // ?endpoint=<name>: only that endpoint's series, cheap whatever the number of endpoints.
    const endpoint = query.get('endpoint');
    await options.dataPlane?.beforeMetrics();
    const text = endpoint === null ? await metrics.render() : registry.endpointMetrics(endpointName(endpoint));
    res.writeHead(200, { 'content-type': metrics.contentType() });
    res.end(text);
  });
  // Prometheus HTTP service discovery (http_sd_configs), behind the admin token like the rest.
  on('GET', '/v1/prometheus/targets', async (req, res) => {
    const routerAddress = scrapeAddress(options.listenAddress?.() ?? null, req.headers.host);
    sendJson(res, 200, prometheusTargets({ routerAddress, endpoints: registry.listEndpoints(), deployments: (name) => registry.listDeployments(name) }));
  });
  on('GET', '/v1/dataplane', async (_req, res) => sendJson(res, 200, options.dataPlane?.view() ?? { kind: 'builtin' }));
  on('GET', '/v1/endpoints', async (_req, res) => sendJson(res, 200, { endpoints: registry.listEndpoints() }));
  on('GET', '/v1/endpoints/:p', async (_req, res, [name]) => sendJson(res, 200, registry.getEndpoint(endpointName(name))));
  on('PUT', '/v1/endpoints/:p', async (req, res, [name]) => {
    const body = parseBody(endpointPutBody, await readJsonBody(req));
    const result = await registry.putEndpoint(endpointName(name), body);
    await options.dataPlane?.applied();
    sendJson(res, result.created ? 201 : 200, result.endpoint);
  });
  on('PATCH', '/v1/endpoints/:p', async (req, res, [name]) => {
    const body = parseBody(endpointPatchBody, await readJsonBody(req));
    const endpoint = await registry.patchEndpoint(endpointName(name), body);
    await options.dataPlane?.applied();
    sendJson(res, 200, endpoint);
  });
  on('DELETE', '/v1/endpoints/:p', async (_req, res, [name]) => {
    await registry.deleteEndpoint(endpointName(name));
    res.writeHead(204).end();
  });
  on('POST', '/v1/endpoints/:p/keys', async (_req, res, [name]) => sendJson(res, 200, registry.getKeys(endpointName(name))));
  on('POST', '/v1/endpoints/:p/keys/regenerate', async (req, res, [name]) => {
    const body = parseBody(regenerateKeyBody, await readJsonBody(req));
    const keys = await registry.regenerateKey(endpointName(name), body.keyType);
    await options.dataPlane?.applied();
    sendJson(res, 200, keys);
  });
  on('GET', '/v1/endpoints/:p/deployments', async (_req, res, [name]) => sendJson(res, 200, { deployments: registry.listDeployments(endpointName(name)) }));
  on('GET', '/v1/endpoints/:p/deployments/:p', async (_req, res, [ep, name]) =>
    sendJson(res, 200, registry.getDeployment(endpointName(ep), deploymentName(name))),
  );
  on('PUT', '/v1/endpoints/:p/deployments/:p', async (req, res, [ep, name]) => {
    const body = parseBody(deploymentPutBody, await readJsonBody(req));
    const result = await registry.putDeployment(endpointName(ep), deploymentName(name), body);
    sendJson(res, result.created ? 201 : 200, result.deployment);
  });
  on('PATCH', '/v1/endpoints/:p/deployments/:p', async (req, res, [ep, name]) => {
    const body = parseBody(deploymentPatchBody, await readJsonBody(req));
    sendJson(res, 200, await registry.scaleDeployment(endpointName(ep), deploymentName(name), body.instanceCount));
  });
  on('DELETE', '/v1/endpoints/:p/deployments/:p', async (_req, res, [ep, name]) => {
    await registry.deleteDeployment(endpointName(ep), deploymentName(name));
    res.writeHead(204).end();
  });
  on('GET', '/v1/endpoints/:p/deployments/:p/logs', async (_req, res, [ep, name], query) => {
    const lines = linesParam(query.get('lines'));
    sendJson(res, 200, { lines: await registry.deploymentLogs(endpointName(ep), deploymentName(name), lines) });
  });
  on('GET', '/v1/endpoints/:p/deployments/:p/shadow-diffs', async (_req, res, [ep, name]) =>
    sendJson(res, 200, registry.shadowDiffs(endpointName(ep), deploymentName(name))),
  );

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const error = isSaferollError(err) ? err : new SaferollError('SAFEROLL_E_INTERNAL', `internal error: ${(err as Error).message}`);
      if (!isSaferollError(err)) console.error('saferoll router: admin request failed', err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body we refused to read is still arriving: close the connection after answering.
      sendError(res, error, undefined, error.code === 'SAFEROLL_E_PAYLOAD_TOO_LARGE' ? { connection: 'close' } : undefined);
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url);
    if (url.pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !matchesAny(token, tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new SaferollError('SAFEROLL_E_UNAUTHORIZED', 'missing or invalid admin token (Authorization: Bearer $SAFEROLL_ADMIN_TOKEN)');
    }
    let pathMatched = false;
    for (const route of routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      await route.handler(req, res, match.slice(1).map(decodeSegment), url.searchParams);
      return;
    }
    if (pathMatched) {
      const allowed = routes.filter((r) => r.pattern.test(url.pathname)).map((r) => r.method);
      sendJson(
        res,
        405,
        { error: { code: 'SAFEROLL_E_VALIDATION', message: `${req.method} is not allowed on ${url.pathname}; use ${allowed.join(', ')}`, field: 'method' } },
        { allow: allowed.join(', ') },
      );
      return;
    }
    throw new SaferollError('SAFEROLL_E_NOT_FOUND', `no such admin route: ${req.method} ${url.pathname}`, { field: 'path' });
  }
}

/**
 * host:port of the admin API for Prometheus: the address it listens on, or,
 * when that is every interface (0.0.0.0, ::), the Host the discovery request
 * came in on, which is how this Prometheus reaches it.
 */
function scrapeAddress(address: AddressInfo | string | null, host: string | undefined): string {
  if (address === null || typeof address === 'string') return host ?? 'localhost';
  if (address.address === '0.0.0.0' || address.address === '::') return host ?? `127.0.0.1:${address.port}`;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SaferollError('SAFEROLL_E_VALIDATION', `path: malformed path segment "${segment}"`, { field: 'path' });
  }
}

// Only the path and query of the request target count: an absolute-form or
// `//host` target names no other host here (and `new URL('//', base)` throws).
function requestUrl(target: string | undefined): URL {
  if (target?.startsWith('/')) {
    try {
      return new URL(`http://admin${target}`);
    } catch {
      // Falls through to the refusal below.
    }
  }
  throw new SaferollError('SAFEROLL_E_VALIDATION', `request target must be a path such as /v1/endpoints, got ${JSON.stringify(target)}`, { field: 'path' });
}

function endpointName(value: string | undefined): string {
  return checkedName(endpointNameSchema, value, 'endpoint');
}

function deploymentName(value: string | undefined): string {
  return checkedName(resourceName, value, 'deployment');
}

function checkedName(schema: typeof resourceName, value: string | undefined, field: string): string {
  const result = schema.safeParse(value);
  if (!result.success) throw new SaferollError('SAFEROLL_E_VALIDATION', `${field}: ${result.error.issues[0]?.message ?? 'invalid name'}`, { field });
  return result.data;
}

function linesParam(raw: string | null): number {
  if (raw === null) return LOG_LINES.default;
  const lines = Number(raw);
  if (!Number.isInteger(lines) || lines < 1 || lines > LOG_LINES.max) {
    throw new SaferollError('SAFEROLL_E_VALIDATION', `lines: must be an integer from 1 to ${LOG_LINES.max}`, { field: 'lines' });
  }
  return lines;
}
