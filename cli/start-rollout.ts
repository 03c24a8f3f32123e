// Starts the rollout workflow with the options every starter needs: the
// endpoint's workflow id (one rollout per endpoint), the task queue, and the
// search attributes the Temporal UI filters on, set from the first moment.
// `saferoll start`, the demo, bench and the test fixtures all start here.
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TASK_QUEUE, rolloutWorkflowId } from '../workflows/messages.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import { GREEN_TRAFFIC_PERCENT, ROLLOUT_ENDPOINT, ROLLOUT_PHASE } from '../workflows/search-attributes.js';
import type { RolloutInput } from '../workflows/types.js';

export interface StartRolloutOptions {
  /** Default: the CLI's task queue. */
  taskQueue?: string | undefined;
  /** The one-line summary the Temporal UI shows. */
  summary?: string | undefined;
  /** Markdown the Temporal UI shows under the summary. */
  details?: string | undefined;
}

/** Throws WorkflowExecutionAlreadyStartedError while a rollout runs on the endpoint. */
export function startRollout(
  client: Client,
  input: RolloutInput,
  options: StartRolloutOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rolloutWorkflow>> {
  return client.workflow.start<typeof rolloutWorkflow>('rolloutWorkflow', {
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowId: rolloutWorkflowId(input.endpoint),
    args: [input],
    typedSearchAttributes: [
      { key: ROLLOUT_ENDPOINT, value: input.endpoint },
      { key: ROLLOUT_PHASE, value: 'Starting' },
      { key: GREEN_TRAFFIC_PERCENT, value: 0 },
    ],
    ...(options.summary === undefined ? {} : { staticSummary: options.summary }),
    ...(options.details === undefined ? {} : { staticDetails: options.details }),
  });
}
