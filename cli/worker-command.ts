// `saferoll worker`: runs rollouts (workflow + activities) until SIGTERM/SIGINT.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { TASK_QUEUE } from '../workflows/messages.js';
import { resolveWorkerConfig } from '../worker/config.js';
import { createRolloutWorker } from '../worker/worker.js';
import { EXIT, parseFlags, UsageError, type Command } from './command.js';
import { ROUTER_FLAGS, TEMPORAL_CONNECTION_FLAGS, TEMPORAL_CONNECTION_HELP, temporalEnvLines } from './session.js';

const usage = `Usage: saferoll worker [--address host:port] [--namespace ns] [--profile name] [--router-url url] [--data-url url]

Runs the rollout workflow and its activities on task queue "${TASK_QUEUE}".
Run more of them for more capacity; SIGTERM/Ctrl-C finishes in-flight work and exits.

Options (each falls back to its environment variable):
${TEMPORAL_CONNECTION_HELP}
  --router-url <url>      routing core admin API (SAFEROLL_ROUTER_URL, default http://127.0.0.1:8081)
  --data-url <url>        routing core data plane, for smoke requests (SAFEROLL_DATA_URL, default http://127.0.0.1:8080)
  --task-queue <name>     task queue (SAFEROLL_TASK_QUEUE, default "${TASK_QUEUE}"; the CLI starts rollouts on the default)
  -h, --help              this help

Environment:
  SAFEROLL_ADMIN_TOKEN    admin token of the routing core (required)
  SAFEROLL_LOG_LEVEL      the Temporal SDK's log level (default WARN)
${temporalEnvLines()}`;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run rollouts: the Temporal worker for the rollout workflow',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, { ...TEMPORAL_CONNECTION_FLAGS, ...ROUTER_FLAGS, 'task-queue': { type: 'string' } });
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    const config = resolveWorkerConfig(values);
    if (!config.adminToken) throw new UsageError('SAFEROLL_ADMIN_TOKEN is not set: the worker needs the routing core admin token');
    // The SDK's INFO output (state changes, the webpack report) drowns the
    // rollout's own lines; SAFEROLL_LOG_LEVEL=INFO brings it back.
    const level = (process.env.SAFEROLL_LOG_LEVEL?.toUpperCase() ?? 'WARN') as LogLevel;
    Runtime.install({ logger: new DefaultLogger(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level) ? level : 'WARN') });
    const worker = await createRolloutWorker(config);
    console.log(
      `saferoll worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress} (namespace ${config.namespace}), router ${config.routerAdminUrl}`,
    );
    await worker.run();
    console.log('saferoll worker: stopped');
    return EXIT.ok;
  },
};
