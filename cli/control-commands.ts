// The operator's controls of a running rollout: abort, pause and resume
// (signals), promote (--force), approve and rollback (updates, which the
// workflow may refuse, with the reason).
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, rollbackUpdate, rolloutWorkflowId } from '../workflows/messages.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { rolloutResult } from './follow-rollout.js';
import { TEMPORAL_ENV_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession, type ConnectionFlags } from './session.js';

type Handle = WorkflowHandle<typeof rolloutWorkflow>;

interface Control {
  name: string;
  summary: string;
  synopsis: string;
  description: string;
  options?: { reason?: boolean; note?: boolean; force?: boolean };
  /** Refuses flags that do not go together, before connecting to anything. */
  checkFlags?(flags: Flags): void;
  act(handle: Handle, flags: Flags): Promise<string>;
  /** Why there is nothing to do when no rollout runs (default: says none runs). */
  notRunning?(handle: Handle, endpoint: string, execution: string): Promise<string>;
}

interface Flags {
  reason?: string | undefined;
  note?: string | undefined;
  force?: boolean | undefined;
}

function controlCommand(control: Control): Command {
  const usage = `Usage: saferoll ${control.synopsis}

${control.description}

Options:
${control.options?.force ? '  --force                 go on past the failed gate that holds the rollout\n' : ''}${control.options?.reason ? `  --reason <text>         why; shown in the decisions${control.options.force ? '' : ' and the result'}\n` : ''}${control.options?.note ? '  --note <text>           recorded with the approval\n' : ''}${TEMPORAL_HELP}
  -h, --help              this help

Exit codes: 0 done, 2 no rollout runs on that endpoint or the rollout refused,
3 Temporal unreachable.

${TEMPORAL_ENV_HELP}`;
  return {
    name: control.name,
    summary: control.summary,
    usage,
    async run(argv) {
      const extra: Record<string, { type: 'string' } | { type: 'boolean' }> = {};
      if (control.options?.reason) extra.reason = { type: 'string' };
      if (control.options?.note) extra.note = { type: 'string' };
      if (control.options?.force) extra.force = { type: 'boolean' };
      const { values, positionals } = parseFlags(argv, { ...TEMPORAL_FLAGS, ...extra }, true);
      if (values.help) {
        console.log(usage);
        return EXIT.ok;
      }
      if (positionals.length !== 1) throw new UsageError(`which endpoint? saferoll ${control.synopsis}`);
      const endpoint = checkName(positionals[0], 'endpoint');
      const flags = values as Flags;
      control.checkFlags?.(flags);
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
          if (execution !== 'NOT_FOUND' && control.notRunning) throw new UsageError(await control.notRunning(handle, endpoint, execution));
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
  summary: 'end the current bake early (if its gates pass); --force: go on past a failed gate',
  synopsis: 'promote <endpoint> [--force [--reason text]]',
  description: `Ends the current bake now, if a bake runs and its gates pass; refused otherwise.
With --force, a rollout held on a failed gate (policy onFailure.action: pause)
goes on with its plan as if the gate had passed; refused unless one is held.`,
  options: { force: true, reason: true },
  checkFlags({ force, reason }) {
    if (reason !== undefined && !force) throw new UsageError('--reason goes with --force (a plain promote needs no reason)');
  },
  act: (handle, { force, reason }) => update(() => handle.executeUpdate(promoteUpdate, { args: [force ? { force: true, reason } : {}] })),
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

export const rollbackCommand = controlCommand({
  name: 'rollback',
  summary: 'put blue back to 100% now (until blue is deleted)',
  synopsis: 'rollback <endpoint> [--reason text]',
  description: `Rolls the rollout on an endpoint back at once: blue 100%, mirroring off,
green removed (unless onFailure.keepGreen), the rollout ends rolled back with
the reason. Works at any step until blue's deletion begins, including the
watch window after promotion (deleteBlue.after); refused after that, since
there is no blue left to go back to.`,
  options: { reason: true },
  act: (handle, { reason }) => update(() => handle.executeUpdate(rollbackUpdate, { args: [reason ?? ''] })),
  async notRunning(handle, endpoint) {
    const result = await rolloutResult(handle).catch(() => undefined);
    if (result?.outcome === 'promoted' && result.blueDeleted) {
      return `nothing to roll back to on ${endpoint}: the rollout promoted "${result.green}" and deleted blue "${result.blue}"; roll the old version out again with saferoll start`;
    }
    if (result?.outcome === 'promoted') {
      return `the rollout on ${endpoint} has ended (promoted "${result.green}"); blue "${result.blue}" still exists: saferoll endpoint traffic ${endpoint} ${result.blue}=100 moves traffic back`;
    }
    if (result?.outcome === 'rolled-back') return `the rollout on ${endpoint} already rolled back: ${result.reason}`;
    return `no rollout is running on endpoint ${endpoint} (the last one has ended without a result)`;
  },
});
