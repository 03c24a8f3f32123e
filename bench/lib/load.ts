// Steady open-loop client load: requests leave at a fixed rate whatever the
// answers do (a slow answer does not slow the senders down, as with real
// users), round-robin over one or more endpoints. Every request is kept as a
// sample with its send time (epoch ms, comparable to workflow decision
// times), latency, outcome and a tag (e.g. the rollout phase current when it
// was sent).
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { onCleanup } from './processes.js';

export interface LoadTarget {
  dataUrl: string;
  endpoint: string;
  key: string;
}

export interface Sample {
  /** Epoch milliseconds (fractional) when the request was sent. */
  sentAt: number;
  latencyMs: number;
  /** HTTP status, or 0 when the request failed without an answer. */
  status: number;
  /** Error code (ECONNRESET, UND_ERR_SOCKET, ...) when status is 0. */
  error?: string | undefined;
  tag: string;
  target: number;
}

export interface LoadOptions {
  ratePerSec: number;
  targets: readonly LoadTarget[];
  /** Connections per origin (default 64). */
  connections?: number;
  /** Tag of a request, read when it is sent. */
  tag?: () => string;
  path?: string;
  body?: string;
  /** Client-side deadline (default 30 s). */
  timeoutMs?: number;
}

export const nowMs = (): number => performance.timeOrigin + performance.now();

export class SteadyLoad {
  readonly samples: Sample[] = [];
  private readonly agent: Agent;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private started = 0;
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly body: string;
  private readonly path: string;
  private readonly urls: string[];
  private readonly headers: Record<string, string>[];

  constructor(private readonly options: LoadOptions) {
    this.agent = new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 30_000, pipelining: 1 });
    this.body = options.body ?? '{"inputs":[[0.12,0.5,3.1,0.07]]}';
    this.path = options.path ?? '/score';
    this.urls = options.targets.map((t) => `${t.dataUrl}/${t.endpoint}${this.path}`);
    this.headers = options.targets.map((t) => ({ authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }));
    onCleanup('load agent', () => this.stop().then(() => undefined));
  }

  get inFlight(): number {
    return this.pending;
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.started = performance.now();
    this.sent = 0;
    this.tick();
    return this;
  }

  /** Stops sending, waits for the answers in flight, closes the connections. */
  async stop(): Promise<Sample[]> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.agent.close().catch(() => undefined);
    return this.samples;
  }

  /** Stops sending new requests but keeps the connections (a pause between rounds). */
  async pause(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private tick = (): void => {
    if (!this.running) return;
    const due = Math.floor(((performance.now() - this.started) * this.options.ratePerSec) / 1000);
    while (this.sent < due) {
      this.fire(this.sent % this.urls.length);
      this.sent++;
    }
    this.timer = setTimeout(this.tick, 1);
  };

  private fire(target: number): void {
    const sample: Sample = { sentAt: nowMs(), latencyMs: 0, status: 0, tag: this.options.tag?.() ?? '', target };
    const t0 = performance.now();
    this.pending++;
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    request(this.urls[target] ?? '', {
      method: 'POST',
      headers: this.headers[target],
      body: this.body,
      dispatcher: this.agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
      .then(async (answer) => {
        await answer.body.dump({ limit: Number.MAX_SAFE_INTEGER });
        sample.status = answer.statusCode;
      })
      .catch((err: unknown) => {
        const e = err as { code?: string; cause?: { code?: string }; message?: string };
        sample.error = e.code ?? e.cause?.code ?? e.message ?? String(err);
      })
      .finally(() => {
        sample.latencyMs = performance.now() - t0;
        this.samples.push(sample);
        if (--this.pending === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }
}

export interface LoadSummary {
  sent: number;
  ok: number;
  /** Answers that are not 2xx. */
  non2xx: number;
  /** Requests without an answer (resets, socket errors, timeouts). */
  connErrors: number;
  byCode: Record<string, number>;
  p50: number;
  p99: number;
}

export function summarize(samples: readonly Sample[]): LoadSummary {
  const latencies: number[] = [];
  const byCode: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let connErrors = 0;
  for (const s of samples) {
    latencies.push(s.latencyMs);
    const code = s.status === 0 ? (s.error ?? 'error') : String(s.status);
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (s.status === 0) connErrors++;
    else if (s.status >= 200 && s.status < 300) ok++;
    else non2xx++;
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies.length === 0 ? Number.NaN : (latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(q * latencies.length) - 1))] ?? Number.NaN);
  return { sent: samples.length, ok, non2xx, connErrors, byCode, p50: at(0.5), p99: at(0.99) };
}

export function isFailure(s: Sample): boolean {
  return s.status === 0 || s.status < 200 || s.status >= 300;
}

/** "502×3, ECONNRESET×1" for the failures in a summary; "none" when there are none. */
export function describeFailures(summary: LoadSummary): string {
  const parts = Object.entries(summary.byCode)
    .filter(([code]) => !/^2\d\d$/.test(code))
    .map(([code, n]) => `${code}×${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}
