// `saferoll status`: where a rollout stands (or how the last one ended), or a
// table of every running rollout.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { formatGateResult } from '../analysis/evaluate.js';
import { rolloutWorkflowId } from '../workflows/messages.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import { GREEN_TRAFFIC_PERCENT, ROLLOUT_ENDPOINT, ROLLOUT_PHASE } from '../workflows/search-attributes.js';
import type { RolloutStatus } from '../workflows/types.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { rolloutResult } from './follow-rollout.js';
import { decisionLine, resultLines, statusLines, stepText, trafficText } from './rollout-view.js';
import { TEMPORAL_ENV_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession, type Session } from './session.js';
import { table } from './table.js';

const usage = `Usage: saferoll status [<endpoint>] [--json]

With an endpoint: the rollout running on it (step, phase, traffic split,
latest gate values, recent decisions), or how the last one ended.
Without: a table of every running rollout.

Options:
  --json                  print JSON on stdout
${TEMPORAL_HELP}
  -h, --help              this help

${TEMPORAL_ENV_HELP}`;

export const RUNNING_ROLLOUTS = "WorkflowType='rolloutWorkflow' AND ExecutionStatus='Running'";

export const statusCommand: Command = {
  name: 'status',
  summary: 'show a rollout, or list the running ones',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { ...TEMPORAL_FLAGS, json: { type: 'boolean' } }, true);
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (positionals.length > 1) throw new UsageError(`one endpoint at a time, got ${positionals.join(' ')}`);
    const endpoint = positionals[0] === undefined ? undefined : checkName(positionals[0], 'endpoint');
    return withSession(resolveConfig(values), async (session) => {
      const client = await session.temporal();
      if (endpoint === undefined) await listRunning(session, client, values.json === true);
      else await showOne(session, client, endpoint, values.json === true);
      return EXIT.ok;
    });
  },
};

async function showOne(session: Session, client: Client, endpoint: string, json: boolean): Promise<void> {
  const workflowId = rolloutWorkflowId(endpoint);
  const handle = client.workflow.getHandle<typeof rolloutWorkflow>(workflowId);
  const description = await handle.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError)
      throw new UsageError(`no rollout has run on endpoint ${endpoint} (no workflow ${workflowId} in namespace ${session.temporalSettings.namespace})`);
    throw err;
  });
  const execution = description.status.name;
  const url = session.workflowUrl(workflowId);

  if (execution === 'RUNNING') {
    const status = await session.queryStatus(handle).catch((err: unknown) => err as Error);
    if (status instanceof Error) {
      // No worker answers: the search attributes still tell the phase and green's share.
      const phase = description.typedSearchAttributes.get(ROLLOUT_PHASE);
      const green = description.typedSearchAttributes.get(GREEN_TRAFFIC_PERCENT);
      if (json) return print({ workflowId, execution, url, phase, greenTrafficPercent: green, statusError: status.message });
      console.log(`${workflowId} is running (phase ${phase ?? '?'}, green ${green ?? '?'}% of live traffic)`);
      console.log(`  status query not answered: ${status.message.split('\n')[0]}`);
      console.log(`  ${url}`);
      return;
    }
    if (json) return print({ workflowId, execution, url, status });
    for (const line of statusLines(status)) console.log(line);
    const recent = status.decisions.slice(-8);
    if (recent.length > 0) console.log('  decisions:');
    for (const decision of recent) console.log(`    ${decisionLine(decision)}`);
    console.log(`  ${url}`);
    return;
  }

  const closed = description.closeTime?.toISOString() ?? '?';
  const outcome = await rolloutResult(handle).catch((err: unknown) => err as Error);
  if (outcome instanceof Error) {
    if (json) return print({ workflowId, execution, url, closeTime: closed, error: outcome.message });
    console.log(`no rollout running on ${endpoint}; the last one (${workflowId}) ended ${execution} at ${closed}: ${outcome.message}`);
    console.log(`  ${url}`);
    return;
  }
  if (json) return print({ workflowId, execution, url, closeTime: closed, result: outcome });
  console.log(`no rollout running on ${endpoint}; the last one ended at ${closed}:`);
  for (const line of resultLines(outcome, workflowId)) console.log(line);
  console.log(`  ${url}`);
}

async function listRunning(session: Session, client: Client, json: boolean): Promise<void> {
  const rows: { workflowId: string; endpoint: string; status?: RolloutStatus; phase?: string; error?: string }[] = [];
  const running = [];
  for await (const info of client.workflow.list({ query: RUNNING_ROLLOUTS })) running.push(info);
  for (const info of running) {
    const endpoint = info.typedSearchAttributes.get(ROLLOUT_ENDPOINT) ?? info.workflowId.replace(/^rollout-/, '');
    const handle = client.workflow.getHandle<typeof rolloutWorkflow>(info.workflowId);
    try {
      rows.push({ workflowId: info.workflowId, endpoint, status: await session.queryStatus(handle) });
    } catch (err) {
      rows.push({ workflowId: info.workflowId, endpoint, phase: info.typedSearchAttributes.get(ROLLOUT_PHASE), error: (err as Error).message });
    }
  }
  rows.sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  if (json) return print({ rollouts: rows });
  if (rows.length === 0) {
    console.log('no rollout running');
    return;
  }
  console.log(
    table(
      ['ENDPOINT', 'STEP', 'PHASE', 'TRAFFIC', 'LAST GATE'],
      rows.map(({ endpoint, status, phase, error }) =>
        status
          ? [
              endpoint,
              stepText(status),
              status.phase + (status.paused ? ' (paused)' : '') + (status.waitingForApproval ? ' (approval)' : ''),
              trafficText(status),
              status.lastGate ? `${status.lastGate.phase}: ${formatGateResult(status.lastGate)}` : '-',
            ]
          : [endpoint, '?', phase ?? '?', '?', `status not answered: ${(error ?? '').split('\n')[0]}`],
      ),
    ),
  );
}

function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
