// The operator's controls of a running rollout: abort, pause and resume
// (signals), promote and approve (updates, which the workflow may refuse).
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, rolloutWorkflowId } from '../workflows/messages.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { TEMPORAL_ENV_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession, type ConnectionFlags } from './session.js';

type Handle = WorkflowHandle<typeof rolloutWorkflow>;

interface Control {
  name: string;
  summary: string;
  synopsis: string;
  description: string;
  options?: { reason?: boolean; note?: boolean };
  act(handle: Handle, flags: { reason?: string | undefined; note?: string | undefined }): Promise<string>;
}

function controlCommand(control: Control): Command {
  const usage = `Usage: saferoll ${control.synopsis}

${control.description}

Options:
${control.options?.reason ? '  --reason <text>         why; shown in the decisions and the result\n' : ''}${control.options?.note ? '  --note <text>           recorded with the approval\n' : ''}${TEMPORAL_HELP}
  -h, --help              this help

Exit codes: 0 done, 2 no rollout runs on that endpoint or the rollout refused,
3 Temporal unreachable.

${TEMPORAL_ENV_HELP}`;
  return {
    name: control.name,
    summary: control.summary,
    usage,
    async run(argv) {
      const extra: Record<string, { type: 'string' }> = {};
      if (control.options?.reason) extra.reason = { type: 'string' };
      if (control.options?.note) extra.note = { type: 'string' };
      const { values, positionals } = parseFlags(argv, { ...TEMPORAL_FLAGS, ...extra }, true);
      if (values.help) {
        console.log(usage);
        return EXIT.ok;
      }
      if (positionals.length !== 1) throw new UsageError(`which endpoint? saferoll ${control.synopsis}`);
      const endpoint = checkName(positionals[0], 'endpoint');
      const flags = values as { reason?: string; note?: string };
      return withSession(resolveConfig(values as ConnectionFlags), async (session) => {
        const client = await session.temporal();
        const workflowId = rolloutWorkflowId(endpoint);
        const handle = client.workflow.getHandle<typeof rolloutWorkflow>(workflowId);
        const execution = await handle
          .describe()
          .then((d) => d.status.name)
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
            throw err;
          });
        if (execution !== 'RUNNING') {
          const last = execution === 'NOT_FOUND' ? 'none has run there' : `the last one has ended: ${execution.toLowerCase()}`;
          throw new UsageError(`no rollout is running on endpoint ${endpoint} (${last}; workflow ${workflowId})`);
        }
        console.log(`${workflowId}: ${await control.act(handle, flags)}`);
        return EXIT.ok;
      });
    },
  };
}

/** An update the workflow's validator refused is an answer for the operator, not a crash. */
async function update(run: () => Promise<string>): Promise<string> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new UsageError(err.cause?.message ?? err.message);
    throw err;
  }
}

export const abortCommand = controlCommand({
  name: 'abort',
  summary: 'stop a rollout: it rolls back to blue',
  synopsis: 'abort <endpoint> [--reason text]',
  description: 'Aborts the rollout on an endpoint: it rolls back at once (all traffic to blue,\nmirroring off, green removed) and ends rolled back.',
  options: { reason: true },
  async act(handle, { reason }) {
    await handle.signal(abortSignal, reason);
    return `abort sent${reason ? ` (${reason})` : ''}: rolling back to blue`;
  },
});

export const pauseCommand = controlCommand({
  name: 'pause',
  summary: 'hold a rollout at its current step',
  synopsis: 'pause <endpoint>',
  description: 'Pauses the rollout on an endpoint: no further step starts and the bake clock\nstops; the gates keep guarding and can still roll back.',
  async act(handle) {
    await handle.signal(pauseSignal);
    return 'pause sent';
  },
});

export const resumeCommand = controlCommand({
  name: 'resume',
  summary: 'continue a paused rollout',
  synopsis: 'resume <endpoint>',
  description: 'Resumes a paused rollout.',
  async act(handle) {
    await handle.signal(resumeSignal);
    return 'resume sent';
  },
});

export const promoteCommand = controlCommand({
  name: 'promote',
  summary: 'end the current bake early (if its gates pass)',
  synopsis: 'promote <endpoint>',
  description: 'Ends the current bake now, if a bake runs and its gates pass; refused otherwise.',
  act: (handle) => update(() => handle.executeUpdate(promoteUpdate)),
});

export const approveCommand = controlCommand({
  name: 'approve',
  summary: 'pass a manual approval step',
  synopsis: 'approve <endpoint> [--note text]',
  description: 'Passes the manual approval step the rollout waits at; refused when none waits.',
  options: { note: true },
  // The definition's optional argument fits neither executeUpdate overload; the payload is the same.
  act: (handle, { note }) => update(() => handle.executeUpdate(approveUpdate, { args: [note ?? ''] })),
});
