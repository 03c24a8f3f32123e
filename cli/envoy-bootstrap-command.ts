// `saferoll envoy-bootstrap`: prints the bootstrap of an Envoy run anywhere
// (another machine, a container) that joins the fleet of a routing core
// started with `--data-plane envoy`: it polls that core for its config and
// announces its admin URL, where the core reads its stats into /metrics.
import { renderBootstrap } from '../router/envoy/bootstrap.js';
import { EXIT, UsageError, intFlag, parseFlags, type Command } from './command.js';

const usage = `Usage: saferoll envoy-bootstrap --xds <url> --node-id <id> [--port 8080] [--admin-port 9901]

Prints (to stdout) an Envoy bootstrap that joins the fleet of a routing core
started with \`saferoll router --data-plane envoy\`:

  saferoll envoy-bootstrap --xds http://10.0.0.5:8082 --node-id edge-1 \\
    --host 0.0.0.0 --announce-host 10.0.0.7 > envoy.json
  envoy -c envoy.json --disable-hot-restart

Options:
  --xds <url>            the routing core's xDS address (its --xds-host and --xds-port)
  --node-id <id>         this Envoy's name in the fleet (unique per Envoy)
  --port <n>             data port (default 8080)
  --host <ip>            data address (default 0.0.0.0)
  --admin-port <n>       Envoy's admin port (default 9901)
  --admin-host <ip>      Envoy's admin address (default 0.0.0.0: the routing core reads stats there)
  --announce-host <host> how the routing core reaches the admin port (default: --admin-host,
                         or 127.0.0.1 when that is 0.0.0.0)
  --upstream-timeout <ms> upstream answer deadline before a 504 (default 30000)
  -h, --help             this help

The Envoy's admin port and the xDS port show endpoint keys: keep both on a
private network.`;

export const envoyBootstrapCommand: Command = {
  name: 'envoy-bootstrap',
  summary: 'print the bootstrap of an Envoy that joins the fleet (--data-plane envoy)',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      xds: { type: 'string' },
      'node-id': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-host': { type: 'string' },
      'announce-host': { type: 'string' },
      'upstream-timeout': { type: 'string' },
    });
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (values.xds === undefined) throw new UsageError("--xds is required (the routing core's xDS URL, e.g. http://10.0.0.5:8082)");
    let xds: URL;
    try {
      xds = new URL(values.xds);
    } catch {
      throw new UsageError(`--xds must be an http URL such as http://10.0.0.5:8082, got "${values.xds}"`);
    }
    if (xds.protocol !== 'http:' || xds.port === '' || xds.pathname !== '/') {
      throw new UsageError(`--xds must be an http URL with a port and no path, such as http://10.0.0.5:8082, got "${values.xds}"`);
    }
    const nodeId = values['node-id'];
    if (nodeId === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(nodeId)) {
      throw new UsageError(`--node-id is required: letters, digits, dots, dashes or underscores, got ${nodeId === undefined ? 'nothing' : `"${nodeId}"`}`);
    }
    const adminHost = values['admin-host'] ?? '0.0.0.0';
    const adminPort = intFlag(values['admin-port'], 'admin-port', 9901, 1);
    const announceHost = values['announce-host'] ?? (adminHost === '0.0.0.0' ? '127.0.0.1' : adminHost);
    const bootstrap = renderBootstrap({
      nodeId,
      xdsUrl: xds.origin,
      adminHost,
      adminPort,
      host: values.host ?? '0.0.0.0',
      port: intFlag(values.port, 'port', 8080, 1),
      upstreamTimeoutMs: intFlag(values['upstream-timeout'], 'upstream-timeout', 30_000, 1, 3_600_000),
      announcedAdminUrl: `http://${announceHost.includes(':') ? `[${announceHost}]` : announceHost}:${adminPort}`,
    });
    console.log(JSON.stringify(bootstrap, null, 2));
    return EXIT.ok;
  },
};
