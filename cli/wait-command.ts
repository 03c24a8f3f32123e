// `saferoll wait`: re-attaches to the rollout running on an endpoint (a CI job
// that was restarted, a second terminal) and follows it to its verdict, with
// the output and exit codes of `start --wait`.
import { WorkflowNotFoundError } from '@temporalio/client';
import { rolloutWorkflowId } from '../workflows/messages.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { rolloutResult } from './follow-rollout.js';
import { followToVerdict, progressStream } from './follow-to-verdict.js';
import { resultLines } from './rollout-view.js';
import { RECONNECT_FLAGS, RECONNECT_HELP, reconnectTimeoutFlag } from './temporal-link.js';
import { TEMPORAL_ENV_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession } from './session.js';

const usage = `Usage: saferoll wait <endpoint> [--json] [--reconnect-timeout 5m]

Follows the rollout running on an endpoint until it is promoted or rolled
back, printing what start --wait prints. When the latest rollout there has
already ended, prints its verdict at once.

Options:
  --json                  print the final result as JSON on stdout (progress goes to stderr)
${RECONNECT_HELP}
${TEMPORAL_HELP}
  -h, --help              this help

Exit codes: 0 promoted, 1 rolled back, 2 no rollout has run on that endpoint,
3 Temporal unreachable (or lost for longer than --reconnect-timeout), 5 the rollout workflow failed, was terminated or timed
out instead of deciding (no rollback ran: check the endpoint's traffic).

${TEMPORAL_ENV_HELP}`;

export const waitCommand: Command = {
  name: 'wait',
  summary: 'follow a running rollout to its verdict (exit codes of start --wait)',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { ...TEMPORAL_FLAGS, ...RECONNECT_FLAGS, json: { type: 'boolean' } }, true);
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError('which endpoint? saferoll wait <endpoint> [--json]');
    const endpoint = checkName(positionals[0], 'endpoint');
    const json = values.json === true;
    const reconnectTimeoutMs = reconnectTimeoutFlag(values['reconnect-timeout']);
    return withSession(resolveConfig(values), async (session) => {
      const client = await session.temporal();
      const workflowId = rolloutWorkflowId(endpoint);
      const description = await client.workflow
        .getHandle(workflowId)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError)
            throw new UsageError(`no rollout has run on endpoint ${endpoint} (no workflow ${workflowId} in namespace ${session.temporalSettings.namespace})`);
          throw err;
        });
      // The whole chain of this rollout (continue-as-new), not a later rollout on the same endpoint.
      const firstRunId = description.raw.workflowExecutionInfo?.firstRunId || undefined;
      const handle = firstRunId
        ? client.workflow.getHandle<typeof rolloutWorkflow>(workflowId, undefined, { firstExecutionRunId: firstRunId })
        : client.workflow.getHandle<typeof rolloutWorkflow>(workflowId, description.runId);

      if (description.status.name !== 'RUNNING' && description.status.name !== 'CONTINUED_AS_NEW') {
        const result = await rolloutResult(handle);
        const lines = [`the rollout on ${endpoint} ended at ${description.closeTime?.toISOString() ?? '?'}:`, ...resultLines(result, workflowId)];
        if (json) {
          for (const line of lines) progressStream(json).write(`${line}\n`);
          console.log(JSON.stringify(result, null, 2));
        } else {
          for (const line of lines) console.log(line);
        }
        return result.outcome === 'promoted' ? EXIT.ok : EXIT.rolledBack;
      }
      progressStream(json).write(`following ${workflowId}, started ${description.startTime.toISOString()}\n  ${session.workflowUrl(workflowId)}\n`);
      return followToVerdict(session, handle, endpoint, json, reconnectTimeoutMs);
    });
  },
};
