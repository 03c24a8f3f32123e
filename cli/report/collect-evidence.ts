// Gathers a rollout's evidence from Temporal: the histories of all its runs
// (continue-as-new links them both ways), and the status query for the
// decision trail of a rollout that has not returned a result.
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { rolloutWorkflowId } from '../../workflows/messages.js';
import type { RolloutStatus } from '../../workflows/types.js';
import { UsageError } from '../command.js';
import type { Session } from '../session.js';
import { buildEvidence, type RolloutEvidence } from './evidence.js';
import { readRun, type RunRecord } from './read-history.js';

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A run chain longer than this is not a rollout this tool wrote (8,000 events a run). */
const MAX_RUNS = 1_000;

export async function collectEvidence(session: Session, endpoint: string, runId?: string): Promise<RolloutEvidence> {
  if (runId !== undefined && !RUN_ID.test(runId))
    throw new UsageError(`--run must be a Temporal run id (a UUID such as the runId start --json prints), got "${runId}"`);
  const client = await session.temporal();
  const workflowId = rolloutWorkflowId(endpoint);
  const fetchRun = async (id: string | undefined): Promise<RunRecord> => {
    try {
      const handle = client.workflow.getHandle(workflowId, id);
      const runIdOf = id ?? (await handle.describe()).runId;
      return readRun(await client.workflow.getHandle(workflowId, runIdOf).fetchHistory(), runIdOf);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === 5)) {
        throw new UsageError(
          id === undefined || id === runId
            ? `no rollout ${id === undefined ? 'has run' : `run ${id}`} on endpoint ${endpoint} (workflow ${workflowId} in namespace ${session.temporalSettings.namespace})`
            : `run ${id} of ${workflowId}, part of this rollout, is gone from Temporal (retention)`,
        );
      }
      throw err;
    }
  };

  const runs = [await fetchRun(runId)];
  const seen = new Set(runs.map((r) => r.runId));
  for (let earliest = runs[0]; earliest?.previousRunId && !seen.has(earliest.previousRunId) && runs.length < MAX_RUNS; earliest = runs[0]) {
    seen.add(earliest.previousRunId);
    runs.unshift(await fetchRun(earliest.previousRunId));
  }
  for (let latest = runs.at(-1); latest?.closure.kind === 'continued' && !seen.has(latest.closure.nextRunId) && runs.length < MAX_RUNS; latest = runs.at(-1)) {
    seen.add(latest.closure.nextRunId);
    runs.push(await fetchRun(latest.closure.nextRunId));
  }

  const last = runs.at(-1);
  let status: RolloutStatus | undefined;
  let statusError: string | undefined;
  // A result carries the decisions; otherwise only the workflow itself knows them (a worker answers the query).
  if (last && last.closure.kind !== 'completed') {
    try {
      status = await session.queryStatus(client.workflow.getHandle(workflowId, last.runId), 5_000);
    } catch (err) {
      statusError = (err as Error).message.split('\n')[0];
    }
  }
  return buildEvidence({ workflowId, runs, status, statusError, generatedAtMs: Date.now() });
}
