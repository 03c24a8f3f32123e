// The bootstrap of an Envoy of the fleet: a static listener on the data port
// whose routes come over RDS, clusters over CDS, both polled from the routing
// core's xDS server (REST-JSON, v3). Also: saferoll's latency buckets for
// Envoy's per-cluster histograms, stats merged when the admin interface is
// read, the built-in plane's error answers for Envoy's own failures, and a
// count of client hang-ups (see HANGUP_LOG).
import { DURATION_BUCKETS_SECONDS } from '../metrics.js';
import { DEPLOYMENT_HEADER } from '../../shared/contracts.js';
import { ROUTE_CONFIG_NAME } from './resources.js';

export const XDS_CLUSTER = 'saferoll_xds';
/** How often every Envoy asks for config; a change reaches the whole fleet within about this. */
export const XDS_REFRESH_MS = 150;

/**
 * Node metadata of an Envoy of this bootstrap (shown by its admin
 * /server_info): it counts client hang-ups. One started from an older
 * bootstrap does not, so the fleet's count would be short (fleet-stats.ts).
 */
export const COUNTS_HANGUPS_METADATA = 'saferoll_counts_hangups';

/*
 * Client hang-ups as the built-in plane counts them (router/proxy-handlers.ts):
 * the client left (DC; DR for an HTTP/2 stream it reset) before any answer
 * began (no status yet), and only once the deployment had the WHOLE request.
 * Envoy's cluster stats have no such count (upstream_rq_tx_reset stays 0 for
 * HTTP/1 upstreams), so a stats access logger books one per request that
 * ends that way, as `saferoll.client_hangups` (read by fleet-stats.ts),
 * tagged with the cluster it was routed to (never a mirror cluster: this is
 * the client's own stream) and `sent`: "0" once Envoy had sent the request's
 * last byte upstream (US_TX_END to itself), empty if it never did (the
 * client left mid-upload, or while the request waited for a connection):
 * only the sent ones are hang-ups of the deployment. Envoy streams a body
 * upstream as it arrives, as the built-in plane streams a large one, so no
 * body is buffered and no size limit is added. Both tags come from config,
 * never from the client: two stats per cluster at most (kept after the
 * cluster is gone: a few bytes per deployment ever routed). For every other
 * request the filter fails on its first test (a flag check) and nothing is
 * formatted. The counters are never evicted (no stats_eviction_interval);
 * a stats_matcher that leaves them out would make every count 0: keep
 * `saferoll.client_hangups` in any inclusion list.
 */
const HANGUP_LOG = {
  name: 'saferoll_client_hangups',
  filter: {
    and_filter: {
      filters: [
        { response_flag_filter: { flags: ['DC', 'DR'] } },
        { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 0, runtime_key: 'saferoll.hangup_status' } } } },
      ],
    },
  },
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stats.v3.Config',
    stat_prefix: 'saferoll',
    counters: [
      {
        stat: {
          name: 'client_hangups',
          tags: [
            { name: 'saferoll_cluster', value_format: '%UPSTREAM_CLUSTER%' },
            { name: 'sent', value_format: '%COMMON_DURATION(US_TX_END:US_TX_END:ms)%' },
          ],
        },
        value_fixed: 1,
      },
    ],
  },
};

export interface BootstrapOptions {
  nodeId: string;
  /** Where the routing core serves xDS, e.g. http://10.0.0.5:8082 */
  xdsUrl: string;
  adminHost: string;
  /** 0: any free port (the supervisor reads it back from --admin-address-path). */
  adminPort: number;
  host: string;
  port: number;
  upstreamTimeoutMs: number;
  /** The admin URL announced to the routing core (where it reads this Envoy's stats); absent when not yet known. */
  announcedAdminUrl?: string | undefined;
}

export function renderBootstrap(options: BootstrapOptions): Record<string, unknown> {
  const xds = new URL(options.xdsUrl);
  const apiSource = {
    resource_api_version: 'V3',
    api_config_source: {
      api_type: 'REST',
      transport_api_version: 'V3',
      cluster_names: [XDS_CLUSTER],
      refresh_delay: `${XDS_REFRESH_MS / 1000}s`,
      request_timeout: '1s',
    },
  };
  const deployment = `%RESP(${DEPLOYMENT_HEADER})%`;
  const failure = (code: string, message: string): unknown => ({
    json_format: { error: { code, message, deployment } },
  });
  return {
    node: {
      id: options.nodeId,
      cluster: 'saferoll',
      metadata: {
        [COUNTS_HANGUPS_METADATA]: true,
        ...(options.announcedAdminUrl ? { saferoll_admin_url: options.announcedAdminUrl } : {}),
      },
    },
    admin: { address: socketAddress(options.adminHost, options.adminPort) },
    // Saferoll's buckets (in ms, Envoy's unit) for the histogram /metrics renders, so its buckets are exactly the built-in plane's.
    stats_config: {
      histogram_bucket_settings: [{ match: { suffix: '.upstream_rq_time' }, buckets: DURATION_BUCKETS_SECONDS.map((s) => Math.round(s * 1000)) }],
    },
    // Histograms are merged when the admin interface is read, not on a timer: a scrape sees them up to date.
    stats_flush_on_admin: true,
    dynamic_resources: { cds_config: apiSource },
    static_resources: {
      listeners: [
        {
          name: 'saferoll_data',
          address: socketAddress(options.host, options.port),
          // Every replica of a fleet on one machine listens on the same port; the kernel spreads connections.
          enable_reuse_port: true,
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'saferoll_data',
                    // Dot segments resolved as RFC 3986 does, before routing.
                    normalize_path: true,
                    use_remote_address: true,
                    // No x-request-id made up (or a client's replaced), as the built-in plane; it also spares a UUID per
                    // request (under 1% of Envoy's instructions per request, callgrind) for a header nothing here reads.
                    generate_request_id: false,
                    rds: { route_config_name: ROUTE_CONFIG_NAME, config_source: apiSource },
                    access_log: [HANGUP_LOG],
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true },
                      },
                    ],
                    // Envoy's own answers, as the built-in plane words them.
                    local_reply_config: {
                      mappers: [
                        {
                          filter: { response_flag_filter: { flags: ['UH'] } },
                          status_code: 503,
                          body_format_override: failure('SAFEROLL_E_NO_TRAFFIC', `deployment "${deployment}" has no ready instance`),
                        },
                        {
                          filter: { response_flag_filter: { flags: ['UT'] } },
                          status_code: 504,
                          body_format_override: failure(
                            'SAFEROLL_E_UPSTREAM_TIMEOUT',
                            `deployment "${deployment}" did not answer within ${options.upstreamTimeoutMs} ms`,
                          ),
                        },
                        {
                          filter: { response_flag_filter: { flags: ['UF', 'URX', 'UC', 'UR', 'UO', 'NC'] } },
                          status_code: 502,
                          body_format_override: failure('SAFEROLL_E_UPSTREAM', `deployment "${deployment}" failed: %RESPONSE_CODE_DETAILS%`),
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: XDS_CLUSTER,
          type: 'STRICT_DNS',
          dns_lookup_family: 'V4_PREFERRED',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(xds.hostname.replace(/^\[|\]$/g, ''), Number(xds.port || 80)) } }] }],
          },
        },
      ],
    },
  };
}

function socketAddress(address: string, port: number): unknown {
  return { socket_address: { address, port_value: port } };
}
