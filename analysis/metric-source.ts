// Where gate numbers come from: one small interface, one file per
// implementation (the router's /metrics today, PromQL later), as Flagger's
// metrics providers. "No data" is not an error: an empty snapshot measures as
// a window with no requests, which the evaluator calls inconclusive.
import type { MetricsSnapshot } from './snapshot.js';

export interface MetricSource {
  /** The endpoint's counters now. Throws a SaferollError when they cannot be read. */
  snapshot(endpoint: string): Promise<MetricsSnapshot>;
}
