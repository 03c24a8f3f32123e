// `saferoll start`: checks everything a rollout needs (policy, names, the
// endpoint and its blue on the router), then starts the rollout workflow and,
// with --wait, follows it to its verdict.
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { loadPolicyFile } from '../policies/loader.js';
import { PolicyError } from '../policies/policy-error.js';
import type { Policy } from '../policies/types.js';
import { describePlan } from '../policies/describe.js';
import type { AdminClient } from '../router/client.js';
import { prometheusAddress } from '../analysis/providers/prometheus.js';
import { prometheusOffline } from '../analysis/providers/prometheus-online.js';
import { blueOf } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import { rolloutWorkflowId } from '../workflows/messages.js';
import type { GreenSpec, RolloutInput } from '../workflows/types.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { SOURCE_FLAGS, SOURCE_HELP, checkName, parseSource } from './deployment-source.js';
import { followToVerdict } from './follow-to-verdict.js';
import { startRollout } from './start-rollout.js';
import { RECONNECT_FLAGS, RECONNECT_HELP, reconnectTimeoutFlag } from './temporal-link.js';
import { ENV_HELP, ROUTER_FLAGS, ROUTER_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession, type Session } from './session.js';

const usage = `Usage: saferoll start --policy <file> --endpoint <e> --green <name>
                      (--upstream <url>... | --command "<cmd>" [--env K=V]... [--env-from-file PATH]...
                       [--readiness-path /healthz])
                      [--instance-count n] [--blue <name>] [--wait [--reconnect-timeout 5m]] [--json]

Starts a rollout of a new green deployment on an endpoint, following the
policy's steps. Everything is checked first: on bad input nothing starts.
One rollout per endpoint at a time.

Options:
  --policy <file>         the rollout policy (YAML; check it with saferoll validate)
  --endpoint <e>          the endpoint to roll out on (must exist and have a blue)
  --green <name>          name of the new deployment (must not exist yet)
  --blue <name>           the deployment to replace (default: the one with 100% of live traffic)
${SOURCE_HELP}
  --wait                  follow the rollout until it is promoted or rolled back
${RECONNECT_HELP}
  --json                  print JSON on stdout (with --wait the final result; progress goes to stderr)
${TEMPORAL_HELP}
${ROUTER_HELP}
  -h, --help              this help

Exit codes: 0 started (or, with --wait, promoted), 1 rolled back, 2 bad input
(nothing started), 3 Temporal, the router or a Prometheus the policy reads unreachable, or Temporal would not
start the workflow (namespace, permissions, search attributes), or with --wait
the connection stayed lost past --reconnect-timeout, 4 a rollout already runs
on that endpoint, 5 (with --wait) the rollout workflow failed, was terminated
or timed out instead of deciding (no rollback ran).

${ENV_HELP}`;

export const startCommand: Command = {
  name: 'start',
  summary: 'start a rollout of a new green deployment (--wait to follow it)',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      ...TEMPORAL_FLAGS,
      ...ROUTER_FLAGS,
      ...SOURCE_FLAGS,
      ...RECONNECT_FLAGS,
      policy: { type: 'string' },
      endpoint: { type: 'string' },
      green: { type: 'string' },
      blue: { type: 'string' },
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    // Everything that needs no server first.
    if (!values.policy) throw new UsageError('--policy <file> is required');
    const endpoint = checkName(values.endpoint, '--endpoint');
    const greenName = checkName(values.green, '--green');
    const blueName = values.blue === undefined ? undefined : checkName(values.blue, '--blue');
    if (blueName === greenName) throw new UsageError(`--green and --blue are both "${greenName}": give the new version a new name`);
    const { instanceCount, source, metricsPath } = parseSource(values);
    const reconnectTimeoutMs = reconnectTimeoutFlag(values['reconnect-timeout']);
    const policy = await loadPolicy(values.policy);
    if (policy === undefined) return EXIT.badInput;
    await checkPrometheus(policy);
    const green: GreenSpec = { name: greenName, instanceCount, source, ...(metricsPath === undefined ? {} : { metricsPath }) };
    const config = resolveConfig(values);
    const workflowId = rolloutWorkflowId(endpoint);

    return withSession(config, async (session) => {
      const client = await session.temporal();
      // Before the router: mid-rollout the endpoint has no blue at 100%, and "already running" is the answer that helps.
      const running = await client.workflow
        .getHandle(workflowId)
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw session.cannotStart(err, endpoint, false);
        });
      if (running) return alreadyRunning(session, endpoint, workflowId);
      const blue = await checkEndpoint(session.admin(), endpoint, green.name, blueName);
      const refusal = await compareRefusal(session.admin(), policy);
      if (refusal !== undefined) {
        console.error(`saferoll start: ${refusal}; nothing started`);
        return EXIT.badInput;
      }

      const input: RolloutInput = { endpoint, policy, green, blue, policySource: path.basename(values.policy ?? '') };
      let handle;
      try {
        handle = await startRollout(client, input, {
          summary: `rollout of green ${green.name} on endpoint ${endpoint}`,
          details: [`replacing blue \`${blue}\``, `policy \`${values.policy}\`: ${describePlan(policy)}`].join('\n\n'),
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return alreadyRunning(session, endpoint, workflowId);
        throw session.cannotStart(err, endpoint, true);
      }

      const url = session.workflowUrl(workflowId);
      const progress = values.json ? process.stderr : process.stdout;
      progress.write(`started ${workflowId}: green "${green.name}" replacing blue "${blue}" on ${endpoint} (policy ${policy.name})\n  ${url}\n`);
      if (!values.wait) {
        if (values.json) console.log(JSON.stringify({ workflowId, runId: handle.firstExecutionRunId, url }, null, 2));
        return EXIT.ok;
      }
      return followToVerdict(session, handle, endpoint, values.json === true, reconnectTimeoutMs);
    });
  },
};

/** The policy, or undefined after printing its problems one per line (file:line:col first, as editors link them). */
async function loadPolicy(file: string): Promise<Policy | undefined> {
  try {
    return await loadPolicyFile(file);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    console.error(err.message);
    console.error(`saferoll start: the policy has ${err.total === 1 ? 'a problem' : `${err.total} problems`}; nothing started (saferoll validate ${file})`);
    return undefined;
  }
}

/**
 * Every Prometheus the policy reads (its analysis.source, its custom checks)
 * must answer before the rollout starts (exit 3 otherwise, nothing changed).
 * One without an address reads the worker's SAFEROLL_PROMETHEUS_URL: checked
 * when this shell has it too; otherwise the worker's first reading tells.
 */
async function checkPrometheus(policy: Policy): Promise<void> {
  const readers = new Map<string, string[]>();
  const add = (address: string | undefined, reader: string) => {
    if (address) readers.set(address, [...(readers.get(address) ?? []), reader]);
  };
  const source = policy.analysis.source;
  if (source !== undefined) add(prometheusAddress(source.prometheus.address, process.env), 'analysis.source');
  for (const check of policy.analysis.metrics ?? []) {
    if ('prometheus' in check) add(prometheusAddress(check.prometheus.address, process.env), `custom check ${check.name}`);
  }
  for (const [address, readBy] of readers) {
    const why = await prometheusOffline(address);
    if (why !== undefined) {
      throw new SaferollError('SAFEROLL_E_UNREACHABLE', `Prometheus at ${address} (read by ${readBy.join(', ')}) does not answer: ${why}; nothing started`);
    }
  }
}

/**
 * Shadow comparison pairs answers inside the built-in data plane: a policy
 * that compares is refused up front on a router running another one, rather
 * than failing at its mirror step with green already created.
 */
async function compareRefusal(admin: AdminClient, policy: Policy): Promise<string | undefined> {
  const index = policy.steps.findIndex((step) => step.kind === 'mirror' && step.compare !== undefined);
  if (index === -1) return undefined;
  // A router from before data planes existed answers 404 here: it is built in.
  const view = await admin.dataPlane<{ kind?: string }>().catch((err: unknown) => {
    if (err instanceof SaferollError && err.code === 'SAFEROLL_E_NOT_FOUND') return { kind: 'builtin' };
    throw err;
  });
  const kind = view.kind;
  if (kind === undefined || kind === 'builtin') return undefined;
  return `steps[${index}].mirror.compare: shadow comparison needs the builtin data plane (it pairs answers inside the router process); this router runs ${kind}`;
}

function alreadyRunning(session: Session, endpoint: string, workflowId: string): number {
  console.error(
    `saferoll start: a rollout already runs on endpoint ${endpoint}: workflow ${workflowId} (${session.workflowUrl(workflowId)}); ` +
      `follow it with saferoll status ${endpoint}, or stop it with saferoll abort ${endpoint}`,
  );
  return EXIT.alreadyRunning;
}

/** The endpoint exists, has the blue to replace, and green is a new name; returns blue. */
async function checkEndpoint(admin: AdminClient, endpoint: string, green: string, blueFlag: string | undefined): Promise<string> {
  const view = await admin.getEndpoint(endpoint);
  const deployments = await admin.listDeployments(endpoint);
  const names = deployments.map((d) => d.name);
  const blue = blueFlag ?? blueOf(view.traffic);
  if (!blue) {
    throw new UsageError(
      `cannot tell which deployment is blue on ${endpoint}: none has 100% of live traffic (${JSON.stringify(view.traffic)}); name it with --blue`,
    );
  }
  if (!names.includes(blue)) throw new UsageError(`blue deployment "${blue}" does not exist on ${endpoint} (deployments: ${names.join(', ') || 'none'})`);
  if (blue === green) throw new UsageError(`green "${green}" is the current blue deployment of ${endpoint}; give the new version a new name`);
  if (names.includes(green)) {
    throw new UsageError(
      `deployment "${green}" already exists on ${endpoint}: choose a new name for green, or delete it first (saferoll deployment delete ${endpoint} ${green})`,
    );
  }
  return blue;
}
