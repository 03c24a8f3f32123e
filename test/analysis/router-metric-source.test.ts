import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RouterMetricSource } from '../../analysis/router-metric-source.js';
import { isSaferollError, type ErrorCode } from '../../shared/errors.js';

const fixture = readFileSync(new URL('./fixtures/router-metrics.txt', import.meta.url), 'utf8');
const TOKEN = 'sra_test-token';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** A stand-in for the router's admin port; returns its base URL. */
async function adminServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Serves the fixture at /metrics to the right bearer token only, like the router. */
function routerAdmin(seen: string[] = []) {
  return (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"SAFEROLL_E_UNAUTHORIZED","message":"bad token"}');
      return;
    }
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(fixture);
  };
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | 'no error'> {
  try {
    await promise;
    return 'no error';
  } catch (err) {
    if (isSaferollError(err)) return err.code;
    throw err;
  }
}

describe('RouterMetricSource', () => {
  it('reads /metrics with the bearer token and keeps the endpoint', async () => {
    const seen: string[] = [];
    const url = await adminServer(routerAdmin(seen));
    const source = new RouterMetricSource(url, TOKEN, { now: () => 42 });
    const snap = await source.snapshot('ep');
    // Only the asked endpoint's series: the router renders them alone.
    expect(seen).toEqual(['GET /metrics?endpoint=ep']);
    expect(snap.takenAtMs).toBe(42);
    expect(snap.deployments.blue?.live).toMatchObject({ count: 100, errors: 2 });
    expect(snap.deployments.green?.mirror).toMatchObject({ count: 10, errors: 1 });
  });

  it('resolves /metrics under a path prefix', async () => {
    const seen: string[] = [];
    const url = await adminServer((req, res) => {
      seen.push(req.url ?? '');
      res.end(fixture);
    });
    await new RouterMetricSource(`${url}/admin`, TOKEN).snapshot('ep');
    expect(seen).toEqual(['/admin/metrics?endpoint=ep']);
  });

  it('is not an error when the endpoint has no data yet', async () => {
    const url = await adminServer(routerAdmin());
    const snap = await new RouterMetricSource(url, TOKEN).snapshot('fresh');
    expect(snap.deployments).toEqual({});
  });

  it('turns a refused token into SAFEROLL_E_METRICS with the status', async () => {
    const url = await adminServer(routerAdmin());
    const source = new RouterMetricSource(url, 'wrong');
    await expect(source.snapshot('ep')).rejects.toThrow(/HTTP 401: .*bad token/);
    expect(await codeOf(source.snapshot('ep'))).toBe('SAFEROLL_E_METRICS');
  });

  it('turns a 5xx into SAFEROLL_E_METRICS', async () => {
    const url = await adminServer((_req, res) => res.writeHead(503).end('draining'));
    expect(await codeOf(new RouterMetricSource(url, TOKEN).snapshot('ep'))).toBe('SAFEROLL_E_METRICS');
  });

  it('turns a refused connection into SAFEROLL_E_UNREACHABLE', async () => {
    const url = await adminServer(routerAdmin());
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const source = new RouterMetricSource(url, TOKEN);
    expect(await codeOf(source.snapshot('ep'))).toBe('SAFEROLL_E_UNREACHABLE');
  });

  it('turns "localhost" refusing on every address into SAFEROLL_E_UNREACHABLE', async () => {
    const url = await adminServer(routerAdmin());
    const port = new URL(url).port;
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    expect(await codeOf(new RouterMetricSource(`http://localhost:${port}`, TOKEN).snapshot('ep'))).toBe('SAFEROLL_E_UNREACHABLE');
  });

  it('gives up after timeoutMs with SAFEROLL_E_TIMEOUT', async () => {
    const url = await adminServer(() => {
      /* never answers */
    });
    const source = new RouterMetricSource(url, TOKEN, { timeoutMs: 100 });
    // The server never answers: only the source's own timeout can end this.
    await expect(source.snapshot('ep')).rejects.toMatchObject({
      code: 'SAFEROLL_E_TIMEOUT',
      message: expect.stringContaining('no complete answer within 100 ms'),
    });
  });

  it('refuses an exposition larger than maxBytes', async () => {
    const url = await adminServer(routerAdmin());
    await expect(new RouterMetricSource(url, TOKEN, { maxBytes: 1024 }).snapshot('ep')).rejects.toThrow(/larger than 1024 bytes/);
  });

  it('rejects an admin URL that is not a URL', () => {
    expect(() => new RouterMetricSource('not a url', TOKEN)).toThrow(expect.objectContaining({ code: 'SAFEROLL_E_VALIDATION', field: 'adminUrl' }));
  });
});
