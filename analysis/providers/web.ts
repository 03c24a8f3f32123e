// The `web` metric provider: GET or POST a URL, read one number at a JSON
// path. Missing, null or a non-finite number at the path -> no data; a
// value that is not a number -> an error. Header values may name the
// worker's environment (`${API_TOKEN}`) so secrets stay out of policies.
import { callJson } from './http-get.js';
import { parseJsonPath, readJsonPath } from '../../shared/json-path.js';
import { renderFor, toNumber, type MetricProvider, type QueryScope } from '../metric-provider.js';

export interface WebCheck {
  url: string;
  /** `$.a.b[0]` */
  path: string;
  method?: 'GET' | 'POST' | undefined;
  headers?: Record<string, string> | undefined;
  /** Sent as JSON with POST; placeholders in its text values are filled in. */
  body?: unknown;
}

export interface WebProviderOptions {
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
}

/** `${NAME}` in a header value: the worker's environment variable NAME. */
export const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const DEFAULT_TIMEOUT_MS = 5_000;

export function webProvider(options: WebProviderOptions = {}): MetricProvider<WebCheck> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    kind: 'web',
    async run(check: WebCheck, scope: QueryScope) {
      const rendered = renderFor(check.url, scope);
      if (!rendered.ok) return { resolved: check.url, reading: rendered.reading };
      const method = check.method ?? 'GET';
      const resolved = `${method} ${rendered.text} ${check.path}`;
      const headers: Record<string, string> = { accept: 'application/json' };
      for (const [name, value] of Object.entries(check.headers ?? {})) {
        const missing = [...value.matchAll(ENV_REFERENCE)].map((m) => m[1] ?? '').find((v) => env[v] === undefined);
        if (missing !== undefined)
          return { resolved, reading: { kind: 'error', message: `header ${name}: the worker has no environment variable ${missing}` } };
        headers[name.toLowerCase()] = value.replace(ENV_REFERENCE, (_m, v: string) => env[v] ?? '');
      }
      let body: string | undefined;
      if (check.body !== undefined) {
        const text = renderFor(JSON.stringify(check.body), scope);
        if (!text.ok) return { resolved, reading: text.reading };
        body = text.text;
        headers['content-type'] = 'application/json';
      }
      const answer = await callJson({ url: rendered.text, method, headers, body, timeoutMs });
      if (!answer.ok) return { resolved, reading: { kind: 'error', message: answer.message } };
      let path;
      try {
        path = parseJsonPath(check.path);
      } catch (err) {
        return { resolved, reading: { kind: 'error', message: err instanceof Error ? err.message : String(err) } };
      }
      const raw = readJsonPath(answer.json, path);
      if (raw === undefined || raw === null) return { resolved, reading: { kind: 'noData', reason: `no data: nothing at ${check.path}` } };
      const value = toNumber(raw);
      if (value === undefined)
        return { resolved, reading: { kind: 'error', message: `the value at ${check.path} is not a number: ${JSON.stringify(raw).slice(0, 80)}` } };
      if (!Number.isFinite(value)) return { resolved, reading: { kind: 'noData', reason: `no data: the value at ${check.path} is ${value}` } };
      return { resolved, reading: { kind: 'value', value } };
    },
  };
}
