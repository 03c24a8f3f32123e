// `saferoll router`: runs the routing core until SIGTERM/SIGINT, then drains.
import path from 'node:path';
import { resolveAdminToken } from '../router/admin-token.js';
import { ISOLATION_MODES } from '../router/providers/instance-isolation.js';
import { startRouter } from '../router/server.js';
import { EXIT, UsageError, intFlag, parseFlags, type Command } from './command.js';

const usage = `Usage: saferoll router [--port 8080] [--admin-port 8081] [--state-dir .saferoll]

Runs the routing core: the data plane (/{endpoint}/...), the admin API and
/metrics on a separate loopback port. State survives restarts.

Options:
  --port <n>             data plane port (default 8080; 0 = any free port)
  --admin-port <n>       admin API and /metrics port (default 8081)
  --host <addr>          data plane address (default 127.0.0.1)
  --admin-host <addr>    admin API address (default 127.0.0.1; keep it private)
  --state-dir <dir>      where state, the admin token and instance logs live (default .saferoll)
  --upstream-timeout <ms>  upstream answer deadline before a 504 (default 30000)
  --readiness-timeout <ms> how long a process instance may take to become ready (default 30000)
  --instance-isolation namespaces|none
                         namespaces (default): each process instance runs in its own user,
                         mount and pid namespaces, where the state dir is hidden and the
                         router's processes (and their environment) are not visible; needs
                         Linux with user namespaces. none: instances run as the router's
                         user and can read the state dir (endpoint keys, admin token) and
                         the router's environment. Not a sandbox either way.
  --data-plane builtin|envoy
                         builtin (default): this process carries the traffic (Node, undici).
                         envoy: a fleet of Envoys does (scripts/install-envoy.sh installs
                         it); this process serves them their config over xDS and reads
                         their stats into /metrics. See README "Data planes".
  --envoy-replicas <n>   Envoys this router runs on the data port (default 1; SO_REUSEPORT)
  --envoy-concurrency <n> worker threads per Envoy (default: one per core)
  --xds-port <n>         where Envoys poll for config (default 8082; Envoys started elsewhere
                         with "saferoll envoy-bootstrap" join through it)
  --xds-host <addr>      xDS address (default: the admin host). It serves endpoint keys:
                         keep it private like the admin API
  -h, --help             this help

Environment:
  SAFEROLL_ADMIN_TOKEN   admin bearer token; when unset one is generated once,
                         printed, and kept (mode 0600) in <state-dir>/admin-token
  SAFEROLL_INSTANCE_ISOLATION  default of --instance-isolation

One router per state dir: a second one on the same dir refuses to start.

SIGTERM or Ctrl-C drains in-flight requests, stops process instances, exits 0.`;

export const routerCommand: Command = {
  name: 'router',
  summary: 'run the routing core (data plane, admin API, metrics)',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      host: { type: 'string' },
      'admin-host': { type: 'string' },
      'state-dir': { type: 'string' },
      'upstream-timeout': { type: 'string' },
      'readiness-timeout': { type: 'string' },
      'instance-isolation': { type: 'string' },
      'data-plane': { type: 'string' },
      'envoy-replicas': { type: 'string' },
      'envoy-concurrency': { type: 'string' },
      'xds-port': { type: 'string' },
      'xds-host': { type: 'string' },
    });
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    const stateDir = path.resolve(values['state-dir'] ?? '.saferoll');
    const isolation = values['instance-isolation'] ?? process.env.SAFEROLL_INSTANCE_ISOLATION ?? 'namespaces';
    if (!isIsolationMode(isolation)) throw new UsageError(`--instance-isolation must be ${ISOLATION_MODES.join(' or ')}, got "${isolation}"`);
    const dataPlane = values['data-plane'] ?? 'builtin';
    if (dataPlane !== 'builtin' && dataPlane !== 'envoy') throw new UsageError(`--data-plane must be builtin or envoy, got "${dataPlane}"`);
    if (dataPlane === 'builtin') {
      for (const flag of ['envoy-replicas', 'envoy-concurrency', 'xds-port', 'xds-host'] as const) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --data-plane envoy`);
      }
    }
    const envoy = {
      replicas: intFlag(values['envoy-replicas'], 'envoy-replicas', 1, 1, 64),
      concurrency: values['envoy-concurrency'] === undefined ? undefined : intFlag(values['envoy-concurrency'], 'envoy-concurrency', 1, 1, 256),
      xdsPort: intFlag(values['xds-port'], 'xds-port', 8082),
      xdsHost: values['xds-host'],
    };
    const token = await resolveAdminToken(stateDir, process.env.SAFEROLL_ADMIN_TOKEN);
    const router = await startRouter({
      port: intFlag(values.port, 'port', 8080),
      adminPort: intFlag(values['admin-port'], 'admin-port', 8081),
      host: values.host,
      adminHost: values['admin-host'],
      stateDir,
      adminToken: token.token,
      upstreamTimeoutMs: intFlag(values['upstream-timeout'], 'upstream-timeout', 30_000, 1, 3_600_000),
      readinessTimeoutMs: intFlag(values['readiness-timeout'], 'readiness-timeout', 30_000, 1, 3_600_000),
      instanceIsolation: isolation,
      dataPlane,
      envoy,
    });
    if (isolation === 'none') {
      console.warn(
        `saferoll router: warning: --instance-isolation none: process deployments run as this user and can read ${stateDir} (endpoint keys, admin token) and this router's environment`,
      );
    }
    if (token.generated) {
      console.log(`saferoll router: generated an admin token (shown once, kept in ${token.file}):\n  export SAFEROLL_ADMIN_TOKEN=${token.token}`);
    }
    if (router.envoy) {
      console.log(
        `saferoll router: Envoy data plane: ${envoy.replicas} replica(s), xDS ${router.envoy.xdsUrl} (GET ${router.adminUrl}/v1/dataplane lists the fleet)`,
      );
    }
    console.log(`saferoll router: data plane ${router.dataUrl}  admin API ${router.adminUrl}  metrics ${router.adminUrl}/metrics  state ${stateDir}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        console.log(`saferoll router: ${signal}, draining in-flight requests...`);
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await router.close();
    console.log('saferoll router: stopped');
    return EXIT.ok;
  },
};

function isIsolationMode(value: string): value is (typeof ISOLATION_MODES)[number] {
  return (ISOLATION_MODES as readonly string[]).includes(value);
}
