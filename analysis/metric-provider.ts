// The seam for custom checks' numbers (as Flagger's RunQuery and Argo
// Rollouts' provider Run): a provider answers one query for one window and
// one side with a value, "no data", or an error. "No data" and errors are
// results, never exceptions, so a caller cannot mistake either for a number;
// what a gate makes of them is analysis/custom-checks.ts's business.
import { renderPlaceholders, promDuration, type PlaceholderValues } from '../shared/metric-placeholders.js';

export type ProviderReading =
  /** `samples`: how many observations the value summarises, when the provider knows. */
  { kind: 'value'; value: number; samples?: number } | { kind: 'noData'; reason: string } | { kind: 'error'; message: string };

/** What one reading is about: the rollout, the side read and the window. */
export interface QueryScope {
  endpoint: string;
  green: string;
  blue: string;
  side: 'green' | 'blue';
  windowMs: number;
  intervalMs: number;
}

export interface ProviderAnswer {
  /** The query (or URL) as sent, placeholders filled in: shown with the reading. */
  resolved: string;
  reading: ProviderReading;
}

export interface MetricProvider<Spec> {
  readonly kind: string;
  run(spec: Spec, scope: QueryScope): Promise<ProviderAnswer>;
}

export function placeholderValues(scope: QueryScope): PlaceholderValues {
  return {
    endpoint: scope.endpoint,
    green: scope.green,
    blue: scope.blue,
    deployment: scope.side === 'green' ? scope.green : scope.blue,
    window: promDuration(scope.windowMs),
    interval: promDuration(scope.intervalMs),
  };
}

/** Renders a template for a scope; an unknown placeholder (refused at validation) becomes an error reading. */
export function renderFor(template: string, scope: QueryScope): { ok: true; text: string } | { ok: false; reading: ProviderReading } {
  try {
    return { ok: true, text: renderPlaceholders(template, placeholderValues(scope)) };
  } catch (err) {
    return { ok: false, reading: { kind: 'error', message: err instanceof Error ? err.message : String(err) } };
  }
}

/** The first bytes of an answer body, for an error message. */
export function firstBytes(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A number as providers send it (Prometheus sends text: "0.93", "NaN", "+Inf"). */
export function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  const value = Number(raw);
  return Number.isNaN(value) && raw !== 'NaN' ? undefined : value;
}
