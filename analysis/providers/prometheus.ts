// The `prometheus` metric provider: one PromQL instant query
// (GET /api/v1/query) per reading. The query must come down to one number:
//   one series or a scalar      -> its value
//   no series, NaN or ±Inf      -> no data (a ratio over zero requests is NaN: nothing was measured)
//   several series              -> an error naming the count (aggregate them: sum, avg, max)
//   status "error", HTTP 4xx/5xx, non-JSON, timeout -> an error with Prometheus's text
import { callJson } from './http-get.js';
import { renderFor, toNumber, type MetricProvider, type ProviderReading, type QueryScope } from '../metric-provider.js';

export interface PrometheusCheck {
  query: string;
  /** Absent: the worker's SAFEROLL_PROMETHEUS_URL. */
  address?: string | undefined;
}

export interface PrometheusProviderOptions {
  /** SAFEROLL_PROMETHEUS_URL, read by the worker. */
  defaultAddress?: string | undefined;
  /** Where the credentials are read: SAFEROLL_PROMETHEUS_TOKEN (bearer), or SAFEROLL_PROMETHEUS_USER and _PASSWORD (basic). */
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
}

export const PROMETHEUS_ENV = {
  url: 'SAFEROLL_PROMETHEUS_URL',
  token: 'SAFEROLL_PROMETHEUS_TOKEN',
  user: 'SAFEROLL_PROMETHEUS_USER',
  password: 'SAFEROLL_PROMETHEUS_PASSWORD',
} as const;

const DEFAULT_TIMEOUT_MS = 5_000;

export function prometheusProvider(options: PrometheusProviderOptions = {}): MetricProvider<PrometheusCheck> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    kind: 'prometheus',
    async run(check: PrometheusCheck, scope: QueryScope) {
      const rendered = renderFor(check.query, scope);
      if (!rendered.ok) return { resolved: check.query, reading: rendered.reading };
      const resolved = rendered.text;
      const address = prometheusAddress(check.address ?? options.defaultAddress, env);
      if (address === undefined || address === '') {
        return {
          resolved,
          reading: { kind: 'error', message: `no Prometheus address: set prometheus.address in the policy or ${PROMETHEUS_ENV.url} for the worker` },
        };
      }
      let url: URL;
      try {
        url = new URL('api/v1/query', address.endsWith('/') ? address : `${address}/`);
      } catch {
        return { resolved, reading: { kind: 'error', message: `Prometheus address "${address}" is not a URL` } };
      }
      url.searchParams.set('query', resolved);
      const answer = await callJson({ url: url.href, method: 'GET', headers: prometheusAuthHeaders(env), timeoutMs });
      if (!answer.ok) return { resolved, reading: { kind: 'error', message: prometheusFailure(answer) } };
      return { resolved, reading: readQueryResult(answer.json) };
    },
  };
}

/** Prometheus answers a bad query with HTTP 400 and its own JSON error: say that text, not the raw body. */
function prometheusFailure(answer: { message: string; status?: number; body?: string }): string {
  if (answer.status !== undefined && answer.body !== undefined) {
    try {
      const reading = readQueryResult(JSON.parse(answer.body) as unknown);
      if (reading.kind === 'error' && reading.message.startsWith('Prometheus: '))
        return `Prometheus: HTTP ${answer.status}: ${reading.message.slice('Prometheus: '.length)}`;
    } catch {
      // Not JSON: the status and first bytes below.
    }
  }
  return `Prometheus: ${answer.message}`;
}

/** Bearer or basic credentials from the worker's environment, shared with the Prometheus metric source. */
export function prometheusAuthHeaders(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const token = env[PROMETHEUS_ENV.token];
  if (token) return { accept: 'application/json', authorization: `Bearer ${token}` };
  const user = env[PROMETHEUS_ENV.user];
  if (user) return { accept: 'application/json', authorization: `Basic ${Buffer.from(`${user}:${env[PROMETHEUS_ENV.password] ?? ''}`).toString('base64')}` };
  return { accept: 'application/json' };
}

/** What /api/v1/query answered: its data, or the error in Prometheus's own words. */
export type QueryAnswer = { ok: true; resultType: unknown; result: unknown } | { ok: false; message: string };

/** The envelope of a /api/v1/query answer (shared with the Prometheus metric source, so both word errors alike). */
export function queryAnswer(json: unknown): QueryAnswer {
  if (!isRecord(json)) return { ok: false, message: 'Prometheus answered JSON that is not a query result' };
  if (json['status'] !== 'success') {
    const type = typeof json['errorType'] === 'string' ? `${json['errorType']}: ` : '';
    const text = typeof json['error'] === 'string' ? json['error'] : 'status is not success';
    return { ok: false, message: `Prometheus: ${type}${text}` };
  }
  const data = json['data'];
  if (!isRecord(data)) return { ok: false, message: 'Prometheus answer has no data' };
  return { ok: true, resultType: data['resultType'], result: data['result'] };
}

/** Where a policy's Prometheus is: the address it names, else the worker's SAFEROLL_PROMETHEUS_URL. */
export function prometheusAddress(address: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  return address ?? env[PROMETHEUS_ENV.url];
}

/** A /api/v1/query answer -> one reading (the table at the top of this file). */
export function readQueryResult(json: unknown): ProviderReading {
  const data = queryAnswer(json);
  if (!data.ok) return { kind: 'error', message: data.message };
  const result = data.result;
  switch (data.resultType) {
    case 'scalar':
      return sampleReading(result, 'the scalar');
    case 'vector': {
      if (!Array.isArray(result)) return { kind: 'error', message: 'Prometheus vector result is not a list' };
      if (result.length === 0) return { kind: 'noData', reason: 'no data: the query returned no series' };
      if (result.length > 1) {
        return { kind: 'error', message: `the query returned ${result.length} series, a check needs one: aggregate them (sum, avg, max by nothing)` };
      }
      const series: unknown = result[0];
      return sampleReading(isRecord(series) ? series['value'] : undefined, 'the series');
    }
    default:
      return { kind: 'error', message: `Prometheus result type ${String(data.resultType)} is not a number: use an instant vector or scalar query` };
  }
}

/** `[ <unix time>, "<value>" ]` */
function sampleReading(sample: unknown, what: string): ProviderReading {
  const value = Array.isArray(sample) ? toNumber(sample[1]) : undefined;
  if (value === undefined) return { kind: 'error', message: `Prometheus sent no number for ${what}` };
  if (!Number.isFinite(value)) return { kind: 'noData', reason: `no data: the query's value is ${value}` };
  return { kind: 'value', value };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
