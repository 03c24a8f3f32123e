// Is a Prometheus there and answering queries (Flagger's IsOnline)? Asked
// by `saferoll start` for every address a policy's custom checks read, so a
// Prometheus that is down refuses the rollout before anything changes
// instead of failing it, errors later, mid-mirror.
import { prometheusProvider, type PrometheusProviderOptions } from './prometheus.js';

/** Undefined when `address` answers `vector(1)` with 1; otherwise why not. */
export async function prometheusOffline(address: string, options: PrometheusProviderOptions = {}): Promise<string | undefined> {
  const scope = { endpoint: '', green: '', blue: '', side: 'green' as const, windowMs: 1_000, intervalMs: 1_000 };
  const { reading } = await prometheusProvider(options).run({ query: 'vector(1)', address }, scope);
  if (reading.kind === 'value' && reading.value === 1) return undefined;
  return reading.kind === 'error' ? reading.message : `Prometheus answered vector(1) with ${reading.kind === 'value' ? reading.value : 'no data'}`;
}
