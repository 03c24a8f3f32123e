// Where a gate's counters come from when a policy names a source other than
// the router: one PrometheusMetricSource per address, made on first use, the
// address defaulting to the worker's SAFEROLL_PROMETHEUS_URL like the custom
// checks' provider.
import type { MetricSource } from '../analysis/metric-source.js';
import { PrometheusMetricSource } from '../analysis/prometheus-metric-source.js';
import { PROMETHEUS_ENV, prometheusAddress } from '../analysis/providers/prometheus.js';
import type { MetricsSource } from '../policies/types.js';
import { SaferollError } from '../shared/errors.js';

export function prometheusSourceFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): (source: MetricsSource) => MetricSource {
  const byAddress = new Map<string, MetricSource>();
  return (source) => {
    const address = prometheusAddress(source.prometheus.address, env);
    if (address === undefined || address === '') {
      throw new SaferollError(
        'SAFEROLL_E_VALIDATION',
        `analysis.source reads Prometheus but has no address: set analysis.source.prometheus.address in the policy or ${PROMETHEUS_ENV.url} for the worker`,
        { field: 'analysis.source' },
      );
    }
    let made = byAddress.get(address);
    if (!made) {
      made = new PrometheusMetricSource(address, { env });
      byAddress.set(address, made);
    }
    return made;
  };
}
