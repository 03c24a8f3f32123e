// Reads every Envoy's per-cluster stats from its admin interface and sums
// them over the fleet into the routing core's own series (router/metrics.ts),
// so `/metrics` keeps its names, labels and buckets whichever plane serves.
// Envoy's `upstream_rq_<code>` counters are the answers by status, its
// `upstream_rq_time` histogram (bucketed with saferoll's bounds, in ms; see
// bootstrap.ts) the latency, and bootstrap.ts's `saferoll.client_hangups`
// (sent) the client hang-ups. An Envoy that restarted starts from zero: what
// it had counted before is kept, so the fleet's totals never go back. Hang-ups
// are whole only if every Envoy run whose counts are in the totals counted
// them (its bootstrap says so: countsHangups).
import { request } from 'undici';
import { parsePrometheusText, type Sample } from '../../analysis/prometheus-text.js';
import { DURATION_BUCKETS_SECONDS } from '../metrics.js';
import { COUNTS_HANGUPS_METADATA } from './bootstrap.js';
import { clusterName, TRAFFIC_KINDS } from './cluster-names.js';
import type { NodeState } from './fleet-nodes.js';
import type { EndpointInput } from './routing-input.js';

export interface ClusterTotals {
  codes: Map<number, number>;
  /** Answers per bucket (not cumulative), one past the last bound for the rest. */
  buckets: number[];
  sumSeconds: number;
  timed: number;
  /** Copies a mirror cluster refused (more in flight than its limit). */
  shed: number;
  /** Clients that hung up after the whole request was sent and before an answer began (never on a mirror cluster). */
  aborts: number;
}

interface NodeCounts {
  uptime: number;
  current: Map<string, ClusterTotals>;
  /** What earlier runs of this node counted (it restarted since). */
  earlier: Map<string, ClusterTotals>;
  /** The run now counted counts client hang-ups; undefined until its bootstrap was read (asked again at each refresh). */
  countsHangups: boolean | undefined;
  /** Every earlier run counted them. */
  earlierCountedHangups: boolean;
}

// Hang-ups only with the whole request sent (tag `sent` is "0"; empty when it was not: bootstrap.ts).
const STATS_FILTER = encodeURIComponent(
  '^(cluster\\.sr~[^.]+\\.upstream_rq_([0-9]{3}|time|pending_overflow)|server\\.uptime|saferoll\\.client_hangups\\.saferoll_cluster\\.sr~[^.]+\\.sent\\.0)$',
);
const HANGUPS = 'envoy_saferoll_client_hangups';
const READ_TIMEOUT_MS = 2_000;
const BOUNDS_MS = DURATION_BUCKETS_SECONDS.map((s) => String(Math.round(s * 1000)));

export class FleetStats {
  private readonly counts = new Map<string, NodeCounts>();
  private queue: Promise<void> = Promise.resolve();

  /**
   * Whether the hang-up totals are whole: every Envoy run whose counts are in
   * the totals counted hang-ups. One from an older bootstrap does not, and
   * its run's requests stay in the totals for good, so once one is read the
   * answer stays false (until the routing core restarts).
   */
  countsHangups(): boolean {
    for (const node of this.counts.values()) if (node.countsHangups !== true || !node.earlierCountedHangups) return false;
    return true;
  }

  /**
   * Reads every node's stats (a node that does not answer keeps its last
   * reading), then books the sums into `endpoints`' series. One refresh at a
   * time: two scrapes at once must not book an older reading after a newer.
   */
  refresh(nodes: readonly NodeState[], endpoints: readonly EndpointInput[]): Promise<void> {
    const next = this.queue.then(() => this.refreshNow(nodes, endpoints));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async refreshNow(nodes: readonly NodeState[], endpoints: readonly EndpointInput[]): Promise<void> {
    await Promise.all(nodes.map((node) => (node.adminUrl ? this.read(node.id, node.adminUrl) : undefined)));
    const totals = this.sum();
    for (const endpoint of endpoints) {
      for (const deployment of endpoint.deployments) {
        for (const kind of TRAFFIC_KINDS) {
          const found = totals.get(clusterName({ endpoint: endpoint.name, deployment: deployment.name, kind, generation: deployment.generation }));
          if (!found) continue;
          deployment.metrics[kind].setTotals(found.codes, found.buckets, found.sumSeconds, found.timed);
          if (kind === 'mirror') deployment.mirrorShed.setTotal(found.shed);
          else deployment.metrics[kind].setAbortTotal(found.aborts);
        }
      }
    }
  }

  private async read(nodeId: string, adminUrl: string): Promise<void> {
    let text: string;
    try {
      // The first read merges the histograms (stats_flush_on_admin), the second reads them merged.
      await get(`${adminUrl}/stats?filter=%5E%24`);
      text = await get(`${adminUrl}/stats?format=prometheus&filter=${STATS_FILTER}`);
    } catch {
      return;
    }
    const samples = parsePrometheusText(text, ['envoy_cluster_upstream_rq', 'envoy_server_uptime', HANGUPS]);
    const reading = parseReading(samples);
    let known = this.counts.get(nodeId);
    if (!known) {
      known = { uptime: reading.uptime, current: reading.clusters, earlier: new Map(), countsHangups: undefined, earlierCountedHangups: true };
      this.counts.set(nodeId, known);
    } else {
      if (reading.uptime < known.uptime) {
        addInto(known.earlier, known.current);
        known.earlierCountedHangups &&= known.countsHangups === true;
        known.countsHangups = undefined;
      }
      known.uptime = reading.uptime;
      known.current = reading.clusters;
    }
    // Once per run of the Envoy: the node metadata its bootstrap gave it.
    known.countsHangups ??= await readCountsHangups(adminUrl);
  }

  private sum(): Map<string, ClusterTotals> {
    const out = new Map<string, ClusterTotals>();
    for (const node of this.counts.values()) {
      addInto(out, node.earlier);
      addInto(out, node.current);
    }
    return out;
  }
}

async function get(url: string): Promise<string> {
  const answer = await request(url, { headersTimeout: READ_TIMEOUT_MS, bodyTimeout: READ_TIMEOUT_MS });
  const body = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`${url}: HTTP ${answer.statusCode}`);
  return body;
}

/** Whether this Envoy's bootstrap counts client hang-ups (bootstrap.ts); undefined when it cannot be read now. */
async function readCountsHangups(adminUrl: string): Promise<boolean | undefined> {
  try {
    const info = JSON.parse(await get(`${adminUrl}/server_info`)) as { node?: { metadata?: Record<string, unknown> } };
    return info.node?.metadata?.[COUNTS_HANGUPS_METADATA] === true;
  } catch {
    return undefined;
  }
}

function emptyTotals(): ClusterTotals {
  return { codes: new Map(), buckets: new Array<number>(BOUNDS_MS.length + 1).fill(0), sumSeconds: 0, timed: 0, shed: 0, aborts: 0 };
}

function parseReading(samples: readonly Sample[]): { uptime: number; clusters: Map<string, ClusterTotals> } {
  let uptime = 0;
  const clusters = new Map<string, ClusterTotals>();
  const cumulative = new Map<string, number[]>();
  const totals = (name: string): ClusterTotals => {
    let found = clusters.get(name);
    if (!found) {
      found = emptyTotals();
      clusters.set(name, found);
    }
    return found;
  };
  for (const sample of samples) {
    if (sample.name === 'envoy_server_uptime') {
      uptime = sample.value;
      continue;
    }
    if (sample.name === HANGUPS) {
      const routed = sample.labels.saferoll_cluster;
      if (routed !== undefined && sample.labels.sent === '0') totals(routed).aborts = sample.value;
      continue;
    }
    const cluster = sample.labels.envoy_cluster_name;
    if (cluster === undefined) continue;
    if (sample.name === 'envoy_cluster_upstream_rq') {
      const code = Number(sample.labels.envoy_response_code);
      if (Number.isInteger(code)) totals(cluster).codes.set(code, sample.value);
    } else if (sample.name === 'envoy_cluster_upstream_rq_pending_overflow') {
      totals(cluster).shed = sample.value;
    } else if (sample.name === 'envoy_cluster_upstream_rq_time_sum') {
      totals(cluster).sumSeconds = sample.value / 1000;
    } else if (sample.name === 'envoy_cluster_upstream_rq_time_count') {
      totals(cluster).timed = sample.value;
    } else if (sample.name === 'envoy_cluster_upstream_rq_time_bucket') {
      const index = BOUNDS_MS.indexOf(sample.labels.le ?? '');
      if (index === -1) continue;
      let row = cumulative.get(cluster);
      if (!row) {
        row = new Array<number>(BOUNDS_MS.length).fill(0);
        cumulative.set(cluster, row);
      }
      row[index] = sample.value;
    }
  }
  for (const [cluster, row] of cumulative) {
    const target = totals(cluster);
    let below = 0;
    for (let i = 0; i < row.length; i++) {
      target.buckets[i] = (row[i] ?? 0) - below;
      below = row[i] ?? 0;
    }
    target.buckets[row.length] = target.timed - below;
  }
  // Envoy books a request its circuit breaker refused (a shed mirror copy) as a 503 of the cluster: it is no answer of the deployment.
  for (const totals of clusters.values()) {
    const refused = totals.codes.get(503);
    if (refused === undefined || totals.shed === 0) continue;
    if (refused > totals.shed) totals.codes.set(503, refused - totals.shed);
    else totals.codes.delete(503);
  }
  return { uptime, clusters };
}

function addInto(into: Map<string, ClusterTotals>, from: ReadonlyMap<string, ClusterTotals>): void {
  for (const [cluster, totals] of from) {
    let target = into.get(cluster);
    if (!target) {
      target = emptyTotals();
      into.set(cluster, target);
    }
    for (const [code, n] of totals.codes) target.codes.set(code, (target.codes.get(code) ?? 0) + n);
    for (let i = 0; i < totals.buckets.length; i++) target.buckets[i] = (target.buckets[i] ?? 0) + (totals.buckets[i] ?? 0);
    target.sumSeconds += totals.sumSeconds;
    target.timed += totals.timed;
    target.shed += totals.shed;
    target.aborts += totals.aborts;
  }
}
