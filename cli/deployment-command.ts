// `saferoll deployment ...`: the deployments behind an endpoint: create (from
// upstream URLs or a command), inspect, scale, delete, read instance logs and
// the shadow comparison's mismatching pairs.
import type { AdminClient } from '../router/client.js';
import { waitProvisioned } from '../router/deployment-wait.js';
import { LOG_LINES } from '../shared/contracts.js';
import type { DeploymentView, ShadowDiffsView } from '../router/views.js';
import { EXIT, intFlag } from './command.js';
import { commandGroup, listFlag, printJson, stringFlag, type FlagValues, type Subcommand } from './command-group.js';
import { SOURCE_FLAGS, SOURCE_HELP, checkName, parseSource } from './deployment-source.js';
import { table } from './table.js';

export const DEPLOYMENT_COLUMNS = ['DEPLOYMENT', 'STATE', 'INSTANCES', 'SOURCE'];

export function deploymentRows(deployments: DeploymentView[]): string[][] {
  return deployments.map((d) => [
    d.name,
    d.provisioningState + (d.reason && d.provisioningState === 'Failed' ? ` (${d.reason})` : ''),
    readyText(d),
    sourceText(d),
  ]);
}

function readyText(d: DeploymentView): string {
  return `${d.instances.filter((i) => i.healthy).length}/${d.instanceCount} ready`;
}

function sourceText(d: DeploymentView): string {
  if ('upstreams' in d.source) return d.source.upstreams.join(' ');
  const text = [d.source.process.command, ...d.source.process.args].join(' ');
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

const names = (positionals: string[]): [string, string] => [checkName(positionals[0], 'endpoint'), checkName(positionals[1], 'deployment')];

const WAIT_FLAGS = { wait: { type: 'boolean' }, timeout: { type: 'string' } } as const;
const WAIT_HELP =
  '  --wait                  wait until the deployment is Succeeded (exit 0) or Failed (exit 1)\n  --timeout <s>           give up waiting after this many seconds (default 600)';

const create: Subcommand = {
  name: 'create',
  synopsis:
    'create <endpoint> <deployment> (--upstream <url>... | --command "<cmd>" [--env K=V]... [--env-from-file PATH]...) [--instance-count n] [--metrics-path /metrics] [--wait]',
  summary: 'create (or update) a deployment; it takes no traffic until given some',
  flags: { ...SOURCE_FLAGS, ...WAIT_FLAGS },
  flagsHelp: `${SOURCE_HELP}\n${WAIT_HELP}`,
  args: [2, 2],
  async run({ values, positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    const { instanceCount, source, metricsPath } = parseSource({
      upstream: listFlag(values, 'upstream'),
      command: stringFlag(values, 'command'),
      env: listFlag(values, 'env'),
      'env-from-file': listFlag(values, 'env-from-file'),
      'readiness-path': stringFlag(values, 'readiness-path'),
      'instance-count': stringFlag(values, 'instance-count'),
      'metrics-path': stringFlag(values, 'metrics-path'),
    });
    const admin = session.admin();
    const view = await admin.putDeployment(endpoint, deployment, { instanceCount, ...source, ...(metricsPath === undefined ? {} : { metricsPath }) });
    return finish(admin, view, values, json, 'created');
  },
};

const scale: Subcommand = {
  name: 'scale',
  synopsis: 'scale <endpoint> <deployment> <instances> [--wait]',
  summary: 'change the number of instances (1-64)',
  flags: WAIT_FLAGS,
  flagsHelp: WAIT_HELP,
  args: [3, 3],
  async run({ values, positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    const count = intFlag(positionals[2], 'instances', 1, 1, 64);
    const admin = session.admin();
    const view = await admin.scaleDeployment(endpoint, deployment, count);
    return finish(admin, view, values, json, `scaling to ${count}`);
  },
};

async function finish(admin: AdminClient, view: DeploymentView, values: FlagValues, json: boolean, what: string): Promise<number> {
  const progress = json ? process.stderr : process.stdout;
  progress.write(`deployment ${view.endpoint}/${view.name} ${what}: ${view.provisioningState}, ${readyText(view)}\n`);
  let final = view;
  if (values.wait === true) {
    const timeoutS = intFlag(stringFlag(values, 'timeout'), 'timeout', 600, 1, 86_400);
    final = await waitReporting(admin, view, timeoutS * 1000, (line) => progress.write(`${line}\n`));
  }
  if (json) printJson(final);
  if (final.provisioningState === 'Failed') {
    if (!json)
      console.log(
        `deployment ${final.endpoint}/${final.name} Failed: ${final.reason ?? 'no reason given'} (saferoll deployment logs ${final.endpoint} ${final.name})`,
      );
    return EXIT.rolledBack;
  }
  return EXIT.ok;
}

/** Waits until Succeeded or Failed, reporting each change of state or readiness. */
function waitReporting(admin: AdminClient, start: DeploymentView, timeoutMs: number, report: (line: string) => void): Promise<DeploymentView> {
  let shown = `${start.provisioningState} ${readyText(start)}`;
  const onView = (view: DeploymentView): void => {
    const now = `${view.provisioningState} ${readyText(view)}`;
    if (now === shown) return;
    const why = view.instances.find((i) => !i.healthy && i.reason)?.reason;
    report(`  ${view.name}: ${view.provisioningState}, ${readyText(view)}${why && view.provisioningState !== 'Succeeded' ? ` (${why})` : ''}`);
    shown = now;
  };
  return waitProvisioned(admin, start.endpoint, start.name, { timeoutMs, pollMs: 500, onView });
}

const show: Subcommand = {
  name: 'show',
  synopsis: 'show <endpoint> <deployment>',
  summary: 'a deployment and its instances',
  args: [2, 2],
  async run({ positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    const view = await session.admin().getDeployment(endpoint, deployment);
    if (json) {
      printJson(view);
      return EXIT.ok;
    }
    console.log(`deployment ${view.endpoint}/${view.name}: ${view.provisioningState}, ${readyText(view)}${view.reason ? ` — ${view.reason}` : ''}`);
    if ('upstreams' in view.source) {
      console.log(`  upstreams: ${view.source.upstreams.join(' ')}`);
    } else {
      const p = view.source.process;
      console.log(`  command: ${[p.command, ...p.args].join(' ')}`);
      if (Object.keys(p.env).length > 0)
        console.log(
          `  env: ${Object.entries(p.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
      if (p.envFiles !== undefined && p.envFiles.length > 0) console.log(`  env files: ${p.envFiles.join(' ')}`);
      console.log(`  readiness: ${p.readinessPath}`);
    }
    if (view.metricsPath !== undefined) {
      console.log(`  metrics: ${view.metricsPath}`);
    }
    if (view.instances.length > 0) {
      const rows = view.instances.map((i) => [
        i.id,
        i.url,
        i.state,
        i.healthy ? 'yes' : 'no',
        String(i.restarts),
        i.pid === undefined ? '-' : String(i.pid),
        i.reason ?? '',
      ]);
      console.log('');
      console.log(table(['INSTANCE', 'URL', 'STATE', 'HEALTHY', 'RESTARTS', 'PID', 'REASON'], rows).replace(/^/gm, '  '));
    }
    return EXIT.ok;
  },
};

const list: Subcommand = {
  name: 'list',
  synopsis: 'list <endpoint>',
  summary: "an endpoint's deployments",
  args: [1, 1],
  async run({ positionals, session, json }) {
    const endpoint = checkName(positionals[0], 'endpoint');
    const deployments = await session.admin().listDeployments(endpoint);
    if (json) printJson({ deployments });
    else if (deployments.length === 0) console.log(`no deployments on ${endpoint}`);
    else console.log(table(DEPLOYMENT_COLUMNS, deploymentRows(deployments)));
    return EXIT.ok;
  },
};

const remove: Subcommand = {
  name: 'delete',
  synopsis: 'delete <endpoint> <deployment>',
  summary: 'delete a deployment (it must have no live or mirrored traffic)',
  args: [2, 2],
  async run({ positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    await session.admin().deleteDeployment(endpoint, deployment);
    if (json) printJson({ deleted: `${endpoint}/${deployment}` });
    else console.log(`deployment ${endpoint}/${deployment} deleted`);
    return EXIT.ok;
  },
};

const logs: Subcommand = {
  name: 'logs',
  synopsis: `logs <endpoint> <deployment> [--lines ${LOG_LINES.default}]`,
  summary: "the latest output lines of a process deployment's instances",
  flags: { lines: { type: 'string' } },
  flagsHelp: `  --lines <n>             how many lines (default ${LOG_LINES.default}, at most ${LOG_LINES.max})`,
  args: [2, 2],
  async run({ values, positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    const lines = await session
      .admin()
      .deploymentLogs(endpoint, deployment, intFlag(stringFlag(values, 'lines'), 'lines', LOG_LINES.default, 1, LOG_LINES.max));
    if (json) printJson({ lines });
    else for (const line of lines) console.log(line);
    return EXIT.ok;
  },
};

const diffs: Subcommand = {
  name: 'diffs',
  synopsis: 'diffs <endpoint> <deployment>',
  summary: "shadow comparison of a mirrored deployment: pairs by result and the last mismatching pairs (blue's answer vs this one's)",
  args: [2, 2],
  async run({ positionals, session, json }) {
    const [endpoint, deployment] = names(positionals);
    const view = await session.admin().shadowDiffs(endpoint, deployment);
    if (json) printJson(view);
    else console.log(shadowDiffsText(view));
    return EXIT.ok;
  },
};

/** Bodies are shown on one line each, cut here (`--json` has them as kept: up to 2 KiB). */
const DIFF_BODY_CHARS = 240;

export function shadowDiffsText(view: ShadowDiffsView): string {
  const { match, mismatch, shed, error } = view.pairs;
  const compared = match + mismatch;
  const share = compared > 0 ? ` (${((100 * mismatch) / compared).toFixed(1)}% mismatch)` : '';
  const lines = [
    `shadow comparison of ${view.endpoint}/${view.deployment}: ${compared} pairs compared, ${match} match, ${mismatch} mismatch${share}; ${shed} shed, ${error} error`,
  ];
  if (compared + shed + error === 0) lines.push('  no pairs: the deployment has not been mirrored with a comparison (mirrorCompare) since the router started');
  if (view.diffs.length > 0) lines.push('', `last ${view.diffs.length} mismatching pairs, newest first:`);
  for (const diff of view.diffs) {
    lines.push('', `${diff.at}  ${diff.method} ${diff.path}`, `  ${diff.reason}`);
    for (const [side, answer] of [
      ['blue ', diff.blue],
      ['green', diff.green],
    ] as const) {
      const body = answer.body.replace(/\s*\n\s*/g, ' ');
      const cut = body.length > DIFF_BODY_CHARS || answer.truncated;
      lines.push(`  ${side} ${answer.status}: ${cut ? `${body.slice(0, DIFF_BODY_CHARS)}… (${answer.bytes} bytes)` : body}`);
    }
  }
  return lines.join('\n');
}

export const deploymentCommand = commandGroup(
  'deployment',
  "manage an endpoint's deployments: create, scale, delete, logs, shadow diffs",
  'A deployment serves an endpoint with instanceCount instances: upstream URLs that already\nrun, or a command the router starts per instance on a free loopback port (env PORT),\nwaits for, restarts on crash and stops on delete.',
  [create, show, list, scale, remove, logs, diffs],
);
