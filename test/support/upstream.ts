// A tiny in-test HTTP upstream on a real loopback port: answers with its
// name, after an optional delay, with a configurable status, and counts hits.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamBehaviour {
  status?: number;
  delayMs?: number;
  /** Sends the headers and half a body, then drops the connection (a crash mid-answer). */
  breakMidBody?: boolean;
  /** When set, answers wait until this promise settles (a hung upstream, released by the test). */
  hold?: Promise<void>;
  /** The answer's body (and content type), instead of the default JSON naming the upstream; given the request's body. */
  body?: (requestBody: string) => string;
  contentType?: string;
}

export interface TestUpstream {
  name: string;
  url: string;
  hits: number;
  lastRequest?: { method: string; url: string; headers: IncomingHttpHeaders; body: string };
  behaviour: UpstreamBehaviour;
  close(): Promise<void>;
}

export async function startUpstream(name: string, behaviour: UpstreamBehaviour = {}): Promise<TestUpstream> {
  const upstream: TestUpstream = { name, url: '', hits: 0, behaviour, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      upstream.hits++;
      const requestBody = Buffer.concat(chunks).toString();
      upstream.lastRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: requestBody };
      const answer = (): void => {
        if (upstream.behaviour.breakMidBody) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          res.write('{"partial":');
          setImmediate(() => res.socket?.destroy());
          return;
        }
        const { body, contentType = 'application/json' } = upstream.behaviour;
        res.writeHead(upstream.behaviour.status ?? 200, { 'content-type': contentType, 'x-upstream': name });
        res.end(body ? body(requestBody) : JSON.stringify({ upstream: name, method: req.method, url: req.url }));
      };
      const { delayMs = 0, hold } = upstream.behaviour;
      const answerLater = (): void => {
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      };
      if (hold) void hold.finally(answerLater);
      else answerLater();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return upstream;
}

/**
 * An upstream that, once it has a request whole, answers 201 with its headers
 * and a first part, and holds the rest until `release()`: a client can leave
 * after the answer began. `dropped()`: the proxy closed the answer before its
 * end (it handled the client's leaving).
 */
export interface HeldAnswerUpstream {
  server: Server;
  url: string;
  release(): void;
  dropped(): boolean;
}

export async function startHeldAnswer(): Promise<HeldAnswerUpstream> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let dropped = false;
  const server = createServer((req, res) => {
    req.resume();
    res.once('close', () => (dropped = !res.writableFinished));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.flushHeaders();
      res.write('first part, the rest is held');
      void held.then(() => res.end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, release, dropped: () => dropped };
}
