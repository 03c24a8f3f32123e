// A plain undici reverse proxy: no keys, no metrics, no mirroring, one
// upstream. The baseline the router's overhead is judged against ("a plain
// undici proxy reaches about 0.33x direct"), shaped like undici's own
// docs/examples/proxy/proxy.js: Pool.dispatch with a handler that writes
// straight into the response (no body stream, no pipeline), with
// backpressure. Runs in a process of its own, started by startPlainProxy()
// in baseline-proxies.ts.
//   UPSTREAM_URL  e.g. http://127.0.0.1:9001     PORT  default 0 (any)
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const upstream = process.env.UPSTREAM_URL;
if (!upstream) throw new Error('plain-proxy: set UPSTREAM_URL');
const pool = new Pool(upstream, { connections: 256, keepAliveTimeout: 30_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function copyHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

class ProxyHandler implements Dispatcher.DispatchHandler {
  private abort: (() => void) | undefined;
  private resume: (() => void) | undefined;

  constructor(private readonly res: ServerResponse) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.abort = () => {
      if (!this.res.writableFinished) controller.abort(new Error('client closed the connection'));
    };
    this.res.on('close', this.abort);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.resume = () => controller.resume();
    this.res.on('drain', this.resume);
    this.res.writeHead(statusCode, copyHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.detach();
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, _err: Error): void {
    this.detach();
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502).end();
  }

  private detach(): void {
    if (this.abort) this.res.off('close', this.abort);
    if (this.resume) this.res.off('drain', this.resume);
  }
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  pool.dispatch(
    { path: req.url ?? '/', method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers: copyHeaders(req.headers), body: hasBody ? req : null },
    new ProxyHandler(res),
  );
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`plain-proxy listening on http://127.0.0.1:${port} (pid ${process.pid})\n`);
});
process.on('SIGTERM', () => process.exit(0));
