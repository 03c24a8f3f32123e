// `saferoll endpoint ...`: endpoints on the routing core: create, inspect,
// delete, set the live split and the mirror share, read and rotate keys.
import type { DeploymentView, EndpointView } from '../router/views.js';
import { UsageError, EXIT } from './command.js';
import { commandGroup, listFlag, printJson, stringFlag, type Subcommand } from './command-group.js';
import { checkName, parsePairs } from './deployment-source.js';
import { deploymentRows, DEPLOYMENT_COLUMNS } from './deployment-command.js';
import { percentMap, table } from './table.js';

const name = (positionals: string[]): string => checkName(positionals[0], 'endpoint');

const create: Subcommand = {
  name: 'create',
  synopsis: 'create <endpoint> [--description text] [--tag k=v]...',
  summary: 'create an endpoint (key auth)',
  flags: { description: { type: 'string' }, tag: { type: 'string', multiple: true } },
  flagsHelp: '  --description <text>    what the endpoint serves\n  --tag <k=v>             a tag (repeatable)',
  args: [1, 1],
  async run({ values, positionals, session, json }) {
    const endpoint = name(positionals);
    const description = stringFlag(values, 'description');
    const tags = parsePairs(listFlag(values, 'tag') ?? [], 'tag');
    const view = await session.admin().putEndpoint(endpoint, { authMode: 'key', ...(description === undefined ? {} : { description }), tags });
    if (json) printJson(view);
    else console.log(`endpoint ${view.name} ready: ${session.config.routerDataUrl}${view.scoringPath} (keys: saferoll endpoint keys ${view.name})`);
    return EXIT.ok;
  },
};

const show: Subcommand = {
  name: 'show',
  synopsis: 'show <endpoint>',
  summary: 'an endpoint, its traffic and its deployments',
  args: [1, 1],
  async run({ positionals, session, json }) {
    const endpoint = name(positionals);
    const admin = session.admin();
    const [view, deployments] = await Promise.all([admin.getEndpoint(endpoint), admin.listDeployments(endpoint)]);
    if (json) {
      printJson({ ...view, deployments });
      return EXIT.ok;
    }
    printEndpoint(view, deployments, session.config.routerDataUrl);
    return EXIT.ok;
  },
};

function printEndpoint(view: EndpointView, deployments: DeploymentView[], dataUrl: string): void {
  console.log(`endpoint ${view.name}${view.description ? ` — ${view.description}` : ''}`);
  console.log(`  scoring URL: ${dataUrl}${view.scoringPath}`);
  console.log(`  traffic:     ${percentMap(view.traffic)}`);
  console.log(`  mirror:      ${percentMap(view.mirrorTraffic)}`);
  if (view.guard?.state === 'held')
    console.log(`  guard lease: held, expires ${view.guard.expiresAt} (ttl ${view.guard.ttl}); falls back to ${view.guard.fallback}`);
  if (view.guard?.state === 'fired') console.log(`  guard lease: FIRED at ${view.guard.firedAt}: ${view.guard.reason}`);
  if (Object.keys(view.tags).length > 0)
    console.log(
      `  tags:        ${Object.entries(view.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  if (deployments.length === 0) {
    console.log('  no deployments');
    return;
  }
  console.log('');
  console.log(table(DEPLOYMENT_COLUMNS, deploymentRows(deployments)).replace(/^/gm, '  '));
}

const list: Subcommand = {
  name: 'list',
  synopsis: 'list',
  summary: 'every endpoint with its traffic',
  args: [0, 0],
  async run({ session, json }) {
    const endpoints = await session.admin().listEndpoints();
    if (json) printJson({ endpoints });
    else if (endpoints.length === 0) console.log('no endpoints (saferoll endpoint create <name>)');
    else
      console.log(
        table(
          ['NAME', 'TRAFFIC', 'MIRROR', 'DESCRIPTION'],
          endpoints.map((e) => [e.name, percentMap(e.traffic), percentMap(e.mirrorTraffic), e.description ?? '']),
        ),
      );
    return EXIT.ok;
  },
};

const remove: Subcommand = {
  name: 'delete',
  synopsis: 'delete <endpoint>',
  summary: 'delete an endpoint and stop its deployments',
  args: [1, 1],
  async run({ positionals, session, json }) {
    const endpoint = name(positionals);
    await session.admin().deleteEndpoint(endpoint);
    if (json) printJson({ deleted: endpoint });
    else console.log(`endpoint ${endpoint} deleted`);
    return EXIT.ok;
  },
};

const traffic: Subcommand = {
  name: 'traffic',
  synopsis: 'traffic <endpoint> [name=percent...]',
  summary: 'show or set the live split, e.g. blue=90 green=10',
  details:
    'Sets the whole live split at once (deployments not named get 0; the percents sum to 100,\nor name none with "off" to route nothing). Without assignments, shows the split.',
  args: [1, 101],
  async run({ positionals, session, json }) {
    const endpoint = name(positionals);
    const assignments = positionals.slice(1);
    const admin = session.admin();
    const view = assignments.length === 0 ? await admin.getEndpoint(endpoint) : await admin.patchEndpoint(endpoint, { traffic: parsePercents(assignments) });
    if (json) printJson({ endpoint: view.name, traffic: view.traffic, mirrorTraffic: view.mirrorTraffic });
    else console.log(`${view.name} traffic: ${percentMap(view.traffic)}  mirror: ${percentMap(view.mirrorTraffic)}`);
    return EXIT.ok;
  },
};

const mirror: Subcommand = {
  name: 'mirror',
  synopsis: 'mirror <endpoint> [name=percent | off]',
  summary: 'show or set the mirrored share, e.g. green=10, or off',
  details:
    'Copies a share of live requests to one deployment (at most 50%, never one with live traffic);\nits answers are dropped. "off" stops mirroring. Without an argument, shows it.',
  args: [1, 2],
  async run({ positionals, session, json }) {
    const endpoint = name(positionals);
    const assignment = positionals[1];
    const admin = session.admin();
    const view =
      assignment === undefined ? await admin.getEndpoint(endpoint) : await admin.patchEndpoint(endpoint, { mirrorTraffic: parsePercents([assignment]) });
    if (json) printJson({ endpoint: view.name, traffic: view.traffic, mirrorTraffic: view.mirrorTraffic });
    else console.log(`${view.name} mirror: ${percentMap(view.mirrorTraffic)}  traffic: ${percentMap(view.traffic)}`);
    return EXIT.ok;
  },
};

const keys: Subcommand = {
  name: 'keys',
  synopsis: 'keys <endpoint>',
  summary: 'the endpoint keys clients send as a bearer token',
  args: [1, 1],
  async run({ positionals, session, json }) {
    const endpointKeys = await session.admin().getKeys(name(positionals));
    if (json) printJson(endpointKeys);
    else console.log(`primary:   ${endpointKeys.primaryKey}\nsecondary: ${endpointKeys.secondaryKey}`);
    return EXIT.ok;
  },
};

const regenerateKey: Subcommand = {
  name: 'regenerate-key',
  synopsis: 'regenerate-key <endpoint> <primary|secondary>',
  summary: 'replace one key (rotate: move clients to the other key first)',
  args: [2, 2],
  async run({ positionals, session, json }) {
    const endpoint = name(positionals);
    const keyType = positionals[1];
    if (keyType !== 'primary' && keyType !== 'secondary') throw new UsageError(`which key? primary or secondary, got "${keyType}"`);
    const endpointKeys = await session.admin().regenerateKey(endpoint, keyType);
    if (json) printJson(endpointKeys);
    else console.log(`${keyType} key of ${endpoint} replaced: ${keyType === 'primary' ? endpointKeys.primaryKey : endpointKeys.secondaryKey}`);
    return EXIT.ok;
  },
};

/** `blue=90 green=10` (or `off`) into a percent map, names and numbers checked. */
function parsePercents(assignments: string[]): Record<string, number> {
  if (assignments.length === 1 && assignments[0] === 'off') return {};
  const percents: Record<string, number> = {};
  for (const assignment of assignments) {
    const match = /^([^=]+)=(\d+)%?$/.exec(assignment);
    if (!match) throw new UsageError(`expected name=percent (e.g. green=10) or off, got "${assignment}"`);
    const deployment = checkName(match[1], 'deployment');
    const percent = Number(match[2]);
    if (percent > 100) throw new UsageError(`${deployment}: a percent is 0 to 100, got ${percent}`);
    if (deployment in percents) throw new UsageError(`${deployment} is named twice`);
    percents[deployment] = percent;
  }
  return percents;
}

export const endpointCommand = commandGroup(
  'endpoint',
  'manage endpoints on the routing core: traffic, mirroring, keys',
  'An endpoint is a name clients call (/{endpoint}/... on the data plane with a key),\nserved by named deployments in a traffic split, with an optional mirrored share.',
  [create, show, list, remove, traffic, mirror, keys, regenerateKey],
);
