// `saferoll load`: steady client traffic against an endpoint, so a rollout's
// gates have answers to judge (the demo does the same). Prints a line of
// counts every few seconds and a total at the end.
import { EXIT, UsageError, intFlag, parseFlags, type Command } from './command.js';
import { DemoLoad } from './demo-load.js';
import { checkName } from './deployment-source.js';
import { ROUTER_ENV_HELP, ROUTER_FLAGS, ROUTER_HELP, resolveRouterConfig, withSession } from './session.js';

const usage = `Usage: saferoll load <endpoint> [--rps 50] [--duration 60]

Sends POST /score requests with the endpoint's primary key at a steady rate
until the duration is over or Ctrl-C, printing sent/failed counts as it goes.
Exits 1 when any request failed.

Options:
  --rps <n>               requests per second (default 50)
  --duration <s>          seconds to run (default 60; 0 = until Ctrl-C)
${ROUTER_HELP}
  -h, --help              this help

${ROUTER_ENV_HELP}`;

export const loadCommand: Command = {
  name: 'load',
  summary: 'send steady traffic to an endpoint (for trying rollouts)',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { ...ROUTER_FLAGS, rps: { type: 'string' }, duration: { type: 'string' } }, true);
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError('which endpoint? saferoll load <endpoint>');
    const endpoint = checkName(positionals[0], 'endpoint');
    const rps = intFlag(values.rps, 'rps', 50, 1, 10_000);
    const durationS = intFlag(values.duration, 'duration', 60, 0, 86_400);
    const config = resolveRouterConfig(values);
    return withSession(config, async (session) => {
      const { primaryKey } = await session.admin().getKeys(endpoint);
      const load = new DemoLoad(`${config.routerDataUrl}/${endpoint}/score`, primaryKey, rps, Math.min(16, Math.max(1, Math.ceil(rps / 25))));
      const report = setInterval(() => {
        const { sent, failed } = load.totals;
        console.log(`load ${endpoint}: ${sent} sent, ${failed} failed`);
      }, 5_000);
      await new Promise<void>((resolve) => {
        const timer = durationS > 0 ? setTimeout(resolve, durationS * 1000) : undefined;
        const stop = (): void => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(report);
      await load.stop();
      const { sent, failed } = load.totals;
      console.log(`load ${endpoint}: done, ${sent} sent, ${failed} failed`);
      return failed > 0 ? EXIT.rolledBack : EXIT.ok;
    });
  },
};
