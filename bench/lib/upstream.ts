// In-process upstreams for benches: fast (answers at once), slow (after a
// delay) or hung (never answers until released). Each counts hits and the
// peak of requests it holds at once, which is how a bench sees, from the
// outside, how many mirror copies the router keeps in flight.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { onCleanup } from './processes.js';

export type UpstreamMode = { kind: 'fast' } | { kind: 'slow'; delayMs: number } | { kind: 'hung' };

export interface BenchUpstream {
  readonly url: string;
  mode: UpstreamMode;
  readonly hits: number;
  readonly inFlight: number;
  /** Highest inFlight since the last resetPeak(). */
  readonly peakInFlight: number;
  resetPeak(): void;
  /** Drops every held request's connection (ends a hung phase cleanly). */
  releaseHeld(): void;
  close(): Promise<void>;
}

const ANSWER = JSON.stringify({ score: 0.5, version: 'bench' });
const ANSWER_HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(ANSWER)) };

export async function startBenchUpstream(mode: UpstreamMode = { kind: 'fast' }): Promise<BenchUpstream> {
  let hits = 0;
  let inFlight = 0;
  let peak = 0;
  const held = new Set<{ res: ServerResponse; socket: Socket }>();
  const server = createServer((req, res) => {
    hits++;
    inFlight++;
    if (inFlight > peak) peak = inFlight;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      inFlight--;
    };
    res.once('close', finish);
    req.resume();
    req.once('end', () => {
      const current = upstream.mode;
      if (current.kind === 'fast') {
        res.writeHead(200, ANSWER_HEADERS).end(ANSWER);
      } else if (current.kind === 'slow') {
        setTimeout(() => res.writeHead(200, ANSWER_HEADERS).end(ANSWER), current.delayMs);
      } else {
        const entry = { res, socket: req.socket };
        held.add(entry);
        res.once('close', () => held.delete(entry));
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const upstream: BenchUpstream = {
    url,
    mode,
    get hits() {
      return hits;
    },
    get inFlight() {
      return inFlight;
    },
    get peakInFlight() {
      return peak;
    },
    resetPeak() {
      peak = inFlight;
    },
    releaseHeld() {
      for (const { socket } of held) socket.destroy();
      held.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        upstream.releaseHeld();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  onCleanup(`upstream ${url}`, () => upstream.close());
  return upstream;
}
