// The metric source that reads the router's own /metrics on its admin port
// (bearer token), and keeps only the asked endpoint's series.
import { request } from 'undici';
import { SaferollError } from '../shared/errors.js';
import type { MetricSource } from './metric-source.js';
import { compactSnapshot, type MetricsSnapshot } from './snapshot.js';

export interface RouterMetricSourceOptions {
  /** Whole request budget, connect to last byte. */
  timeoutMs?: number;
  /** Refuse bigger expositions: something is wrong with a router that exports this much. */
  maxBytes?: number;
  /** Clock for `takenAtMs`; tests pin it. */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Errors that mean nothing answered at that address, as opposed to a bad answer. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export class RouterMetricSource implements MetricSource {
  private readonly metricsUrl: URL;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(
    adminUrl: string,
    private readonly adminToken: string,
    options: RouterMetricSourceOptions = {},
  ) {
    let base: URL;
    try {
      base = new URL(adminUrl.endsWith('/') ? adminUrl : `${adminUrl}/`);
    } catch (cause) {
      throw new SaferollError('SAFEROLL_E_VALIDATION', `adminUrl: not a URL: ${adminUrl}`, { field: 'adminUrl', cause });
    }
    // Relative to the base, so a router published under a path prefix still works.
    this.metricsUrl = new URL('metrics', base);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.now = options.now ?? Date.now;
  }

  async snapshot(endpoint: string): Promise<MetricsSnapshot> {
    // The router renders just this endpoint's series when asked: a gate's
    // cost does not grow with the number of endpoints.
    const text = await this.readMetrics(endpoint);
    return compactSnapshot(text, endpoint, this.now());
  }

  private async readMetrics(endpoint: string): Promise<string> {
    const target = new URL(this.metricsUrl);
    target.searchParams.set('endpoint', endpoint);
    const url = target.href;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { authorization: `Bearer ${this.adminToken}`, accept: 'text/plain' },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.statusCode < 200 || res.statusCode > 299) {
        const detail = (await res.body.text().catch(() => '')).slice(0, 200).trim();
        throw new SaferollError('SAFEROLL_E_METRICS', `GET ${url}: HTTP ${res.statusCode}${detail ? `: ${detail}` : ''}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > this.maxBytes) {
          res.body.destroy();
          throw new SaferollError('SAFEROLL_E_METRICS', `GET ${url}: exposition larger than ${this.maxBytes} bytes`);
        }
        chunks.push(buf);
      }
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      throw toSaferollError(err, url, this.timeoutMs);
    }
  }
}

function toSaferollError(err: unknown, url: string, timeoutMs: number): SaferollError {
  if (err instanceof SaferollError) return err;
  const code = errorCode(err);
  if ((err instanceof Error && err.name === 'TimeoutError') || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new SaferollError('SAFEROLL_E_TIMEOUT', `GET ${url}: no complete answer within ${timeoutMs} ms`, { cause: err });
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new SaferollError('SAFEROLL_E_UNREACHABLE', `GET ${url}: router unreachable (${code})`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SaferollError('SAFEROLL_E_METRICS', `GET ${url}: ${message}`, { cause: err });
}

/**
 * The system or undici code of a failure. Connecting to a name with several
 * addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError whose
 * parts carry the code.
 */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'string') return err.code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const code = errorCode(inner);
      if (code !== undefined) return code;
    }
  }
  if ('cause' in err) return errorCode(err.cause);
  return undefined;
}
