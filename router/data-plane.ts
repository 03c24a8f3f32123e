// The data plane: `ANY /{endpoint}/{path...}` with a bearer key. Picks a
// deployment (header target, else the live split), proxies to one of its
// instances with undici, and copies a share of requests to the mirror
// deployment without waiting for it. This is the hot path: no validation
// library, no logging, label children and digests precomputed.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { SaferollError } from '../shared/errors.js';
import { readRawBody, sendError, sendJson } from './http-util.js';
import type { TrafficKind } from './metrics.js';
import type { DeploymentTarget, RouteTable } from './route-table.js';
import { bearerToken, matchesAny } from './secret-compare.js';

export const DEPLOYMENT_HEADER = 'x-saferoll-deployment';
export const DEPLOYMENT_HEADER_ALIAS = 'azureml-model-deployment';

// Never forwarded: connection-level headers (RFC 9110 §7.6.1), the client's
// saferoll key, and our routing headers.
const DROPPED_REQUEST_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'host', 'authorization', DEPLOYMENT_HEADER, DEPLOYMENT_HEADER_ALIAS,
]);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-connection']);

export interface DataPlaneOptions {
  routes: () => RouteTable;
  /** Upstream answer deadline (headers and body gaps), then 504. */
  upstreamTimeoutMs: number;
  /** Mirror copies in flight beyond this are shed (and counted), never queued. */
  maxMirrorInFlight: number;
  connectionsPerInstance: number;
}

export class DataPlane {
  private readonly pools = new Map<string, Pool>();
  private mirrorInFlight = 0;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: DataPlaneOptions) {}

  /** Requests currently being proxied (mirrors excluded). */
  get activeRequests(): number {
    return this.inFlight;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    this.serve(req, res)
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, new SaferollError('SAFEROLL_E_INTERNAL', `internal error: ${(err as Error).message}`));
        else res.destroy();
      })
      .finally(() => {
        if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  };

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = req.url ?? '/';
    const slash = url.indexOf('/', 1);
    const query = url.indexOf('?');
    const nameEnd = slash === -1 ? (query === -1 ? url.length : query) : query !== -1 && query < slash ? query : slash;
    const endpointName = url.slice(1, nameEnd);
    if (endpointName === 'healthz' && nameEnd === url.length) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const routes = this.options.routes().get(endpointName);
    if (!routes) {
      sendError(res, new SaferollError('SAFEROLL_E_NOT_FOUND', `endpoint "${endpointName}" does not exist`));
      return;
    }
    const key = bearerToken(req.headers.authorization);
    if (key === undefined || !matchesAny(key, routes.keyDigests)) {
      sendError(res, new SaferollError('SAFEROLL_E_UNAUTHORIZED', 'missing or invalid endpoint key (Authorization: Bearer <key>)'), undefined, {
        'www-authenticate': 'Bearer',
      });
      return;
    }
    const path = nameEnd === url.length ? '/' : url[nameEnd] === '?' ? `/${url.slice(nameEnd)}` : url.slice(nameEnd);

    const requested = headerValue(req.headers, DEPLOYMENT_HEADER) ?? headerValue(req.headers, DEPLOYMENT_HEADER_ALIAS);
    let target: DeploymentTarget | undefined;
    let kind: TrafficKind;
    let mirror: DeploymentTarget | undefined;
    if (requested !== undefined) {
      target = routes.byName.get(requested);
      kind = 'direct';
      if (!target) {
        sendError(res, new SaferollError('SAFEROLL_E_NOT_FOUND', `deployment "${requested}" does not exist on endpoint "${endpointName}"`));
        return;
      }
    } else {
      target = routes.pickLive();
      kind = 'live';
      if (!target) {
        sendError(res, new SaferollError('SAFEROLL_E_NO_TRAFFIC', `endpoint "${endpointName}" has no deployment with live traffic; set traffic with PATCH /v1/endpoints/${endpointName}`));
        return;
      }
      mirror = routes.pickMirror();
    }

    const instance = target.pickInstance();
    if (!instance) {
      target.metrics[kind].record(503, (performance.now() - started) / 1000);
      sendError(res, new SaferollError('SAFEROLL_E_NO_TRAFFIC', `deployment "${target.name}" has no ready instance`), { deployment: target.name }, {
        [DEPLOYMENT_HEADER]: target.name,
      });
      return;
    }

    const headers = forwardedHeaders(req);
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (hasBody) {
      if (mirror) {
        body = await readRawBody(req);
      } else {
        body = req;
      }
    }
    if (mirror) this.sendMirror(mirror, req.method ?? 'GET', path, headers, body as Buffer | null);
    await this.proxy(target, kind, instance, req.method ?? 'GET', path, headers, body, res, started);
  }

  private async proxy(
    target: DeploymentTarget,
    kind: TrafficKind,
    instance: string,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: Dispatcher.DispatchOptions['body'],
    res: ServerResponse,
    started: number,
  ): Promise<void> {
    let status = 502;
    try {
      const answer = await this.pool(instance).request({
        path,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: this.options.upstreamTimeoutMs,
        bodyTimeout: this.options.upstreamTimeoutMs,
      });
      status = answer.statusCode;
      res.writeHead(status, responseHeaders(answer.headers, target.name));
      await pipeline(answer.body, res);
    } catch (err) {
      status = isTimeout(err) ? 504 : 502;
      if (res.headersSent) {
        res.destroy();
      } else {
        const code = status === 504 ? 'SAFEROLL_E_UPSTREAM_TIMEOUT' : 'SAFEROLL_E_UPSTREAM';
        const what = status === 504 ? `did not answer within ${this.options.upstreamTimeoutMs} ms` : `failed: ${describeError(err)}`;
        sendError(res, new SaferollError(code, `deployment "${target.name}" ${what}`), { deployment: target.name }, { [DEPLOYMENT_HEADER]: target.name });
      }
    } finally {
      target.metrics[kind].record(status, (performance.now() - started) / 1000);
    }
  }

  // Fire and forget: the client's answer never waits for or sees the mirror.
  private sendMirror(target: DeploymentTarget, method: string, path: string, headers: Record<string, string | string[]>, body: Buffer | null): void {
    if (this.mirrorInFlight >= this.options.maxMirrorInFlight) {
      target.mirrorShed.inc();
      return;
    }
    const instance = target.pickInstance();
    if (!instance) {
      target.metrics.mirror.record(503, 0);
      return;
    }
    this.mirrorInFlight++;
    const started = performance.now();
    let status = 502;
    this.pool(instance)
      .request({
        path,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: this.options.upstreamTimeoutMs,
        bodyTimeout: this.options.upstreamTimeoutMs,
      })
      .then(async (answer) => {
        status = answer.statusCode;
        await answer.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      })
      .catch((err: unknown) => {
        status = isTimeout(err) ? 504 : status === 502 ? 502 : status;
      })
      .finally(() => {
        this.mirrorInFlight--;
        target.metrics.mirror.record(status, (performance.now() - started) / 1000);
      });
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: this.options.connectionsPerInstance, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes pools of instances that are gone (called after route changes). */
  prune(liveOrigins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.pools) {
      if (liveOrigins.has(origin)) continue;
      this.pools.delete(origin);
      pool.close().catch(() => pool.destroy());
    }
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function forwardedHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const incoming = req.headers;
  for (const name in incoming) {
    if (DROPPED_REQUEST_HEADERS.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  const remote = req.socket.remoteAddress;
  if (remote) out['x-forwarded-for'] = typeof out['x-forwarded-for'] === 'string' ? `${out['x-forwarded-for']}, ${remote}` : remote;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders, deployment: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  out[DEPLOYMENT_HEADER] = deployment;
  return out;
}

function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}
