// The activity behind custom checks (policy analysis.metrics): one reading
// per check for green, and for blue where a baseline rule compares them,
// over the window the workflow names. Read-only, so a retry is harmless;
// provider errors and "no data" come back as readings (the workflow counts
// errors against consecutiveErrorLimit), so the activity itself does not fail.
import type { CustomReading } from '../analysis/custom-checks.js';
import type { MetricProvider, ProviderAnswer, QueryScope } from '../analysis/metric-provider.js';
import { prometheusProvider, type PrometheusCheck } from '../analysis/providers/prometheus.js';
import { webProvider, type WebCheck } from '../analysis/providers/web.js';
import type { CustomMetric } from '../policies/types.js';

export interface CustomMetricsRequest {
  endpoint: string;
  green: string;
  blue: string;
  /** The window the readings cover ({{window}}), and the policy's interval ({{interval}}). */
  windowMs: number;
  intervalMs: number;
  metrics: CustomMetric[];
}

/** The providers by kind; the defaults read the worker's environment (SAFEROLL_PROMETHEUS_URL and credentials). */
export interface MetricProviders {
  prometheus: MetricProvider<PrometheusCheck>;
  web: MetricProvider<WebCheck>;
}

export function defaultMetricProviders(): MetricProviders {
  return { prometheus: prometheusProvider(), web: webProvider() };
}

export function createCustomMetricActivities(providers: MetricProviders = defaultMetricProviders()) {
  return {
    async readCustomMetrics(req: CustomMetricsRequest): Promise<CustomReading[]> {
      const reads: Promise<CustomReading>[] = [];
      for (const metric of req.metrics) {
        const sides: ('green' | 'blue')[] = metric.baseline === undefined ? ['green'] : ['green', 'blue'];
        for (const side of sides) {
          const scope: QueryScope = { endpoint: req.endpoint, green: req.green, blue: req.blue, side, windowMs: req.windowMs, intervalMs: req.intervalMs };
          reads.push(readOne(providers, metric, scope).then((answer) => ({ name: metric.name, side, ...answer })));
        }
      }
      return Promise.all(reads);
    },
  };
}

async function readOne(providers: MetricProviders, metric: CustomMetric, scope: QueryScope): Promise<ProviderAnswer> {
  try {
    return 'prometheus' in metric ? await providers.prometheus.run(metric.prometheus, scope) : await providers.web.run(metric.web, scope);
  } catch (err) {
    // Providers answer errors as readings; anything thrown is a defect, still reported, never a crash.
    return {
      resolved: 'prometheus' in metric ? metric.prometheus.query : metric.web.url,
      reading: { kind: 'error', message: err instanceof Error ? err.message : String(err) },
    };
  }
}
