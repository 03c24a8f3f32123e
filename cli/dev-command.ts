// `saferoll dev`: the whole local stack with one command, until Ctrl-C.
import { EXIT, UsageError, intFlag, parseFlags, type Command } from './command.js';
import { STACK_FLAGS, STACK_HELP, stackOptions, startDevStack } from './dev-stack.js';

const usage = `Usage: saferoll dev [--port 8080] [--admin-port 8081] [--temporal-port 7233] [--ui-port 8233] [--state-dir .saferoll]
                    [--prometheus [--prometheus-port 9090]]

Starts on loopback the Temporal dev server with its web UI (database kept in
the state dir, so rollouts survive a restart), the routing core and a worker,
prints their URLs, and stops them all on Ctrl-C or SIGTERM (exit 0).

A part that dies on its own is restarted alone, after 0.5 s doubling to 10 s
(back to 0.5 s once it has stayed up a minute), with a line for each death and
restart: the router keeps serving while Temporal or the worker is down. The
pids of the parts are kept in <state-dir>/dev-pids.json. The router gets no
TEMPORAL_* variables (nor any SAFEROLL_* but the admin token, when set).

With --prometheus it also runs /usr/bin/prometheus (scripts/install-prometheus.sh
installs it) scraping every second, its targets discovered from the router's
GET /v1/prometheus/targets every 2 s (the router, and every instance of a
deployment created with --metrics-path), with its config, the admin token
(0600) and its database in <state-dir>/prometheus; the worker gets its URL as
SAFEROLL_PROMETHEUS_URL.

Options:
${STACK_HELP}
  --prometheus          also run Prometheus, discovering its targets from the router
  --prometheus-port <n> its port (default 9090)
  -h, --help            this help

Environment:
  SAFEROLL_ADMIN_TOKEN  admin token (generated once and kept in the state dir when unset)
  TEMPORAL_ADDRESS      use this Temporal server instead of starting one (so does an
                        address in the Temporal config file's profile: TEMPORAL_PROFILE,
                        TEMPORAL_CONFIG_FILE; its API key and TLS settings go to the worker)
  TEMPORAL_NAMESPACE    namespace (default "default", or the profile's)`;

const DEV_FLAGS = { ...STACK_FLAGS, prometheus: { type: 'boolean' }, 'prometheus-port': { type: 'string' } } as const;

export const devCommand: Command = {
  name: 'dev',
  summary: 'run the whole local stack: Temporal + UI, router, worker',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, DEV_FLAGS);
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (values['prometheus-port'] !== undefined && values.prometheus !== true) throw new UsageError('--prometheus-port goes with --prometheus');
    const prometheus = values.prometheus === true ? { port: intFlag(values['prometheus-port'], 'prometheus-port', 9090, 1) } : undefined;
    const stack = await startDevStack({ ...stackOptions(values, (line) => console.log(line)), prometheus });
    console.log(
      [
        '',
        'saferoll dev stack is up:',
        `  data plane   ${stack.dataUrl}/<endpoint>/...`,
        `  admin API    ${stack.adminUrl}/v1/endpoints   (Authorization: Bearer $SAFEROLL_ADMIN_TOKEN)`,
        `  metrics      ${stack.metricsUrl}`,
        `  Temporal     ${stack.temporalAddress} (namespace ${stack.namespace})`,
        `  Temporal UI  ${stack.uiUrl ?? '(external server: use its own UI)'}`,
        ...(stack.prometheusUrl ? [`  Prometheus   ${stack.prometheusUrl}   (targets from ${stack.adminUrl}/v1/prometheus/targets)`] : []),
        '',
        'In another terminal: export SAFEROLL_ADMIN_TOKEN=... (see above or the state dir), then `saferoll endpoint create ...`.',
        'Ctrl-C stops everything.',
      ].join('\n'),
    );
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    console.log(`[dev] ${signal}: stopping the worker, the router and Temporal...`);
    await stack.stop();
    console.log('[dev] stopped');
    return EXIT.ok;
  },
};
