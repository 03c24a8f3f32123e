// The data plane: `ANY /{endpoint}/{path...}` with a bearer key. Picks a
// deployment (header target, else the live split), proxies to one of its
// instances with undici, and copies a share of requests to the mirror
// deployment without waiting for it. This is the hot path: no validation
// library, no logging, label children and digests precomputed.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { DEPLOYMENT_HEADER, DEPLOYMENT_HEADER_ALIAS } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import { isDotSegment, resolveDotSegments } from './dot-segments.js';
import { connectionNamedHeaders, readWholeBody, sendError, sendJson } from './http-util.js';
import type { TrafficKind } from './metrics.js';
import { MirrorHandler, ProxyHandler } from './proxy-handlers.js';
import type { DeploymentTarget, RouteTable } from './route-table.js';
import { bearerToken, matchesAny } from './secret-compare.js';
import { ShadowPair, type ShadowSetup } from './shadow/shadow-pair.js';

// Never forwarded: connection-level headers (RFC 9110 §7.6.1), the client's
// saferoll key, and our routing headers.
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'expect',
  DEPLOYMENT_HEADER,
  DEPLOYMENT_HEADER_ALIAS,
]);
/** Request bodies up to this size are read whole and sent with the headers in one write. */
const SMALL_BODY_BYTES = 64 * 1024;

// Keys are per endpoint, so a key never opens an endpoint that does not
// exist. The key is still hashed and compared (against random digests, which
// no key can match), so an unknown endpoint costs and answers exactly what a known one
// with a wrong key does: names cannot be enumerated without a key.
const NO_ENDPOINT_DIGESTS = [randomBytes(32), randomBytes(32)];
const UNAUTHORIZED = new SaferollError('SAFEROLL_E_UNAUTHORIZED', 'missing or invalid endpoint key (Authorization: Bearer <key>)');
const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer' };
const MIRROR_UNAVAILABLE = { result: 'error', reason: 'green had no ready instance' } as const;

export interface DataPlaneOptions {
  routes: () => RouteTable;
  /** Upstream answer deadline (headers and body gaps), then 504. */
  upstreamTimeoutMs: number;
  /** Mirror copies in flight beyond this are shed (and counted), never queued. */
  maxMirrorInFlight: number;
  /** Shadow pairs (each holding up to two 64 KiB answers) in flight beyond this are shed (and counted), never queued. */
  maxShadowPairsInFlight: number;
  connectionsPerInstance: number;
}

export class DataPlane {
  private readonly pools = new Map<string, Pool>();
  private mirrorInFlight = 0;
  private pairsInFlight = 0;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: DataPlaneOptions) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    try {
      this.serve(req, res);
    } catch (err) {
      if (!res.headersSent) sendError(res, new SaferollError('SAFEROLL_E_INTERNAL', `internal error: ${(err as Error).message}`));
      else res.destroy();
      this.release();
    }
  };

  /** Called once per client request when it is answered (or abandoned). */
  private readonly release = (): void => {
    if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
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

  private answer(res: ServerResponse, err: SaferollError, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
    sendError(res, err, extra, headers);
    this.release();
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const slash = url.indexOf('/', 1);
    const query = url.indexOf('?');
    const nameEnd = slash === -1 ? (query === -1 ? url.length : query) : query !== -1 && query < slash ? query : slash;
    const endpointName = url.slice(1, nameEnd);
    if (endpointName === 'healthz' && nameEnd === url.length) {
      sendJson(res, 200, { status: 'ok' });
      this.release();
      return;
    }
    // `/./e/...` or `/%2e%2e/e/...`: which endpoint is meant is ambiguous, so
    // none is guessed. Said before the key check: it depends on the path alone.
    if (isDotSegment(endpointName)) {
      this.answer(res, pathError('the path must start with an endpoint name, not a dot segment'));
      return;
    }
    const routes = this.options.routes().get(endpointName);
    const key = bearerToken(req.headers.authorization);
    if (key === undefined || !matchesAny(key, routes ? routes.keyDigests : NO_ENDPOINT_DIGESTS) || !routes) {
      this.answer(res, UNAUTHORIZED, undefined, UNAUTHORIZED_HEADERS);
      return;
    }
    const path = resolveDotSegments(nameEnd === url.length ? '/' : url[nameEnd] === '?' ? `/${url.slice(nameEnd)}` : url.slice(nameEnd));
    if (typeof path !== 'string') {
      this.answer(res, pathError(path.message));
      return;
    }

    const requested = headerValue(req.headers, DEPLOYMENT_HEADER) ?? headerValue(req.headers, DEPLOYMENT_HEADER_ALIAS);
    let target: DeploymentTarget | undefined;
    let kind: TrafficKind;
    let mirror: DeploymentTarget | undefined;
    if (requested !== undefined) {
      target = routes.byName.get(requested);
      kind = 'direct';
      if (!target) {
        this.answer(res, new SaferollError('SAFEROLL_E_NOT_FOUND', `deployment "${requested}" does not exist on endpoint "${endpointName}"`));
        return;
      }
    } else {
      target = routes.pickLive();
      kind = 'live';
      if (!target) {
        this.answer(
          res,
          new SaferollError(
            'SAFEROLL_E_NO_TRAFFIC',
            `endpoint "${endpointName}" has no deployment with live traffic; set traffic with PATCH /v1/endpoints/${endpointName}`,
          ),
        );
        return;
      }
      mirror = routes.pickMirror();
    }

    const instance = target.pickInstance();
    if (!instance) {
      // The deployment's own failure, decided at once.
      target.metrics[kind].record(503, 0);
      this.answer(
        res,
        new SaferollError('SAFEROLL_E_NO_TRAFFIC', `deployment "${target.name}" has no ready instance`),
        { deployment: target.name },
        {
          [DEPLOYMENT_HEADER]: target.name,
        },
      );
      return;
    }

    const request: Dispatcher.DispatchOptions = {
      path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: forwardedHeaders(req),
      body: null,
      headersTimeout: this.options.upstreamTimeoutMs,
      bodyTimeout: this.options.upstreamTimeoutMs,
    };
    const declared = req.headers['content-length'];
    const length = declared === undefined ? -1 : Number(declared);
    const hasBody = length > 0 || (declared === undefined && req.headers['transfer-encoding'] !== undefined);
    const smallBody = hasBody && length > 0 && length <= SMALL_BODY_BYTES;
    const handler = new ProxyHandler(req, res, target, kind, this.options.upstreamTimeoutMs, this.release, hasBody && !smallBody);
    // A small body goes out in one write with the headers, and only a small
    // body is mirrored (it is needed twice; a large or unknown-length upload
    // is streamed and its mirror copy shed, so memory stays bounded).
    if (mirror && !(length >= 0 && length <= SMALL_BODY_BYTES)) {
      mirror.mirrorShed.inc();
      routes.shadow?.metrics.shed();
      mirror = undefined;
    }
    if (smallBody) {
      readWholeBody(req, (body) => {
        if (body === undefined) {
          handler.onClientBodyError();
          return;
        }
        request.body = body;
        try {
          if (mirror) this.sendMirror(mirror, request, routes.shadow, handler);
          this.pool(instance).dispatch(request, handler);
        } catch {
          // Thrown inside a stream event, where nothing else would catch it: the request is given up, as the promise chain here did.
          handler.onClientBodyError();
        }
      });
      return;
    }
    if (hasBody) {
      request.body = req;
      req.once('end', handler.onBodyEnd);
    }
    if (mirror) this.sendMirror(mirror, request, routes.shadow, handler);
    this.pool(instance).dispatch(request, handler);
  }

  // Fire and forget: the client's answer never waits for or sees the mirror.
  // With a comparison, blue's handler copies its answer into a pair that is
  // judged once both answers are in; beyond the pair cap the copy is still
  // sent and measured, only not compared.
  private sendMirror(target: DeploymentTarget, request: Dispatcher.DispatchOptions, shadow: ShadowSetup | undefined, blue: ProxyHandler): void {
    if (this.mirrorInFlight >= this.options.maxMirrorInFlight) {
      target.mirrorShed.inc();
      shadow?.metrics.shed();
      return;
    }
    const instance = target.pickInstance();
    if (!instance) {
      target.metrics.mirror.record(503, 0);
      shadow?.metrics.book(MIRROR_UNAVAILABLE);
      return;
    }
    let pair: ShadowPair | undefined;
    if (shadow) {
      if (this.pairsInFlight >= this.options.maxShadowPairsInFlight) {
        shadow.metrics.shed();
      } else {
        this.pairsInFlight++;
        pair = new ShadowPair(shadow, request.method, request.path, this.releasePair);
        blue.pair = pair;
      }
    }
    this.mirrorInFlight++;
    this.pool(instance).dispatch({ ...request }, new MirrorHandler(target, this.releaseMirror, pair));
  }

  private readonly releaseMirror = (): void => {
    this.mirrorInFlight--;
  };

  private readonly releasePair = (): void => {
    this.pairsInFlight--;
  };

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

function pathError(message: string): SaferollError {
  return new SaferollError('SAFEROLL_E_VALIDATION', `path: ${message}`, { field: 'path' });
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function forwardedHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const incoming = req.headers;
  // Headers the client named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const named = connectionNamedHeaders(incoming.connection);
  for (const name in incoming) {
    if (DROPPED_REQUEST_HEADERS.has(name) || named?.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  const remote = req.socket.remoteAddress;
  if (remote) out['x-forwarded-for'] = typeof out['x-forwarded-for'] === 'string' ? `${out['x-forwarded-for']}, ${remote}` : remote;
  return out;
}
