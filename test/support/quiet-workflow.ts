// Where a time-skipping test may send a signal or an update safely. The Java
// time-skipping test server strands a run (it refuses the workflow task's
// completion and never retries it) in two cases a real server handles:
// - the task cancels a timer that fired while the task was with the worker
//   ("invalid history builder state for action", temporalio/sdk-java#3088).
//   Between skips the server's clock runs at real pace, and a timer started
//   right after a skip is due just after the next one lands, so a signal's
//   task can meet it;
// - the task cancels an activity that is scheduled but not yet started
//   ("ACTIVITY_UNKNOWN").
// So before a test acts, the run must have no workflow task outstanding, no
// activity waiting to start, and no timer due within TIMER_GUARD_MS.
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { waitFor } from './wait-for.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType, PendingActivityState } = temporal.api.enums.v1;

/** Far longer than a workflow task takes on a loaded machine, far shorter than the waits under test. */
const TIMER_GUARD_MS = 5_000;
/** Timers skipped past before giving up on a run that keeps one due (a loop with a tiny interval). */
const MAX_GUARD_SKIPS = 20;

/**
 * Waits until the run is quiet (see above), moving time past timers due
 * within TIMER_GUARD_MS. An activity that has started (a stand-in blocked on
 * purpose) may stay running: cancelling a started activity is safe.
 */
export async function quiet(env: TestWorkflowEnvironment, handle: WorkflowHandle): Promise<void> {
  for (let skips = 0; ; skips++) {
    const events = await waitFor(() => settled(handle), 30_000, `${handle.workflowId} settled (no workflow task outstanding, no activity waiting to start)`);
    const now = await env.currentTimeMs();
    const dueIn = Math.min(...pendingTimersDueAt(events).map((at) => at - now));
    if (!(dueIn <= TIMER_GUARD_MS)) return;
    if (skips >= MAX_GUARD_SKIPS) throw new Error(`${handle.workflowId} keeps a timer due within ${TIMER_GUARD_MS} ms: cannot act between its timers`);
    await env.sleep(Math.max(dueIn, 0) + 1);
  }
}

/**
 * The run's history once it has ended, or has no workflow task outstanding
 * and no activity scheduled but not started; undefined otherwise. Whether an
 * activity has started is asked of the server: history records the start
 * only once the activity ends.
 */
async function settled(handle: WorkflowHandle): Promise<HistoryEvent[] | undefined> {
  const events = (await handle.fetchHistory()).events ?? [];
  if (CLOSED.has(events.at(-1)?.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED)) return events;
  if (workflowTaskOutstanding(events)) return undefined;
  const { raw } = await handle.describe();
  const waiting = (raw.pendingActivities ?? []).some((a) => a.state === PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED);
  return waiting ? undefined : events;
}

function workflowTaskOutstanding(events: readonly HistoryEvent[]): boolean {
  let outstanding = false;
  for (const event of events) {
    if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) outstanding = true;
    else if (TASK_ENDED.has(event.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED)) outstanding = false;
  }
  return outstanding;
}

const TASK_ENDED: ReadonlySet<temporal.api.enums.v1.EventType> = new Set([
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
]);

/** When each timer started and not yet fired or cancelled is due, in ms since the epoch. */
function pendingTimersDueAt(events: readonly HistoryEvent[]): number[] {
  const pending = new Map<string, number>();
  for (const event of events) {
    const started = event.timerStartedEventAttributes;
    if (started?.timerId) pending.set(started.timerId, protoMs(event.eventTime) + protoMs(started.startToFireTimeout));
    const ended = event.timerFiredEventAttributes ?? event.timerCanceledEventAttributes;
    if (ended?.timerId) pending.delete(ended.timerId);
  }
  return [...pending.values()];
}

/** A protobuf timestamp or duration in milliseconds. */
function protoMs(value: { seconds?: { toString(): string } | null; nanos?: number | null } | null | undefined): number {
  return Number(value?.seconds?.toString() ?? 0) * 1000 + Math.floor((value?.nanos ?? 0) / 1e6);
}

const CLOSED: ReadonlySet<temporal.api.enums.v1.EventType> = new Set([
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);
