// Reads one run of a rollout workflow out of its Temporal history: the input
// (policy, green, blue), every gate reading the measureWindows activity
// returned, and how the run ended. Pure: the history comes from
// `handle.fetchHistory()` or a committed JSON file, payloads are decoded with
// the default payload converter (the one the worker uses).
import { defaultPayloadConverter } from '@temporalio/common';
import type { History, Payload } from '@temporalio/common/lib/proto-utils.js';
import type { TickWindows } from '../../activities/types.js';
import { ROLLED_BACK } from '../../workflows/rolled-back.js';
import type { CarriedState, RolloutInput, RolloutResult } from '../../workflows/types.js';

type HistoryEvent = NonNullable<History['events']>[number];

/** One gate reading: what measureWindows returned for one tick, and where it is in the history. */
export interface MeasuredTick {
  runId: string;
  /** Event id of the ActivityTaskCompleted that carries the reading. */
  eventId: number;
  /** Server time at which the workflow asked for the reading (orders it among the workflow's decisions). */
  scheduledAtMs: number;
  /** When the router's counters were read: the end of both windows. */
  takenAtMs: number;
  /** Which of green's traffic kinds was measured: copies during a mirror step, live traffic otherwise. */
  greenTraffic: 'live' | 'mirror';
  green: string;
  blue: string;
  windows: TickWindows;
}

export type RunClosure =
  | { kind: 'running' }
  | { kind: 'completed'; result: RolloutResult }
  | { kind: 'continued'; nextRunId: string; carried: CarriedState | undefined }
  | { kind: 'failed' | 'terminated' | 'timed-out' | 'canceled'; message: string };

export interface RunRecord {
  runId: string;
  startedAtMs: number;
  closedAtMs: number | undefined;
  /** The run this one continued (continue-as-new), if any. */
  previousRunId: string | undefined;
  input: RolloutInput;
  ticks: MeasuredTick[];
  closure: RunClosure;
  /** Readings that could not be decoded (another saferoll version's shape), by event id. */
  skipped: number[];
}

export const MEASURE_ACTIVITY = 'measureWindows';

export function readRun(history: History, runId?: string): RunRecord {
  const events = history.events ?? [];
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!first || !started) throw new Error('the history does not start with WorkflowExecutionStarted');
  const id = runId ?? started.originalExecutionRunId ?? '';
  const input = decode<RolloutInput>(started.input?.payloads?.[0]);
  if (!input?.policy || !input.endpoint) throw new Error(`run ${id} is not a rollout: its input has no policy or endpoint`);

  const scheduled = new Map<number, { atMs: number; request: MeasureArgs | undefined }>();
  const ticks: MeasuredTick[] = [];
  const skipped: number[] = [];
  let closure: RunClosure = { kind: 'running' };
  let closedAtMs: number | undefined;

  for (const event of events) {
    const eventId = longToNumber(event.eventId);
    const schedule = event.activityTaskScheduledEventAttributes;
    if (schedule?.activityType?.name === MEASURE_ACTIVITY) {
      scheduled.set(eventId, { atMs: eventTimeMs(event), request: decode<MeasureArgs>(schedule.input?.payloads?.[0]) });
      continue;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const asked = scheduled.get(longToNumber(completed.scheduledEventId));
      if (!asked) continue;
      const reading = decode<MeasureResult>(completed.result?.payloads?.[0]);
      const tick = asked.request && reading ? toTick(id, eventId, asked.atMs, asked.request, reading) : undefined;
      if (tick) ticks.push(tick);
      else skipped.push(eventId);
      continue;
    }
    const end = closureOf(event);
    if (end) {
      closure = end;
      closedAtMs = eventTimeMs(event);
    }
  }

  return {
    runId: id,
    startedAtMs: eventTimeMs(first),
    closedAtMs,
    previousRunId: started.continuedExecutionRunId || undefined,
    input,
    ticks,
    closure,
    skipped,
  };
}

interface MeasureArgs {
  green?: string;
  blue?: string;
  greenTraffic?: string;
}

interface MeasureResult {
  windows?: Partial<TickWindows>;
  snapshot?: { takenAtMs?: number };
}

function toTick(runId: string, eventId: number, scheduledAtMs: number, request: MeasureArgs, reading: MeasureResult): MeasuredTick | undefined {
  const w = reading.windows;
  const takenAtMs = reading.snapshot?.takenAtMs;
  if (!w?.greenStep || !w.greenInterval || typeof takenAtMs !== 'number' || typeof request.green !== 'string') return undefined;
  return {
    runId,
    eventId,
    scheduledAtMs,
    takenAtMs,
    greenTraffic: request.greenTraffic === 'mirror' ? 'mirror' : 'live',
    green: request.green,
    blue: typeof request.blue === 'string' ? request.blue : '',
    windows: { greenStep: w.greenStep, greenInterval: w.greenInterval, blueStep: w.blueStep, blueInterval: w.blueInterval },
  };
}

function closureOf(event: HistoryEvent): RunClosure | undefined {
  if (event.workflowExecutionCompletedEventAttributes) {
    const result = decode<RolloutResult>(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]);
    if (!result) return { kind: 'failed', message: 'completed without a result' };
    return { kind: 'completed', result };
  }
  if (event.workflowExecutionContinuedAsNewEventAttributes) {
    const next = event.workflowExecutionContinuedAsNewEventAttributes;
    return { kind: 'continued', nextRunId: next.newExecutionRunId ?? '', carried: decode<RolloutInput>(next.input?.payloads?.[0])?.carried };
  }
  if (event.workflowExecutionFailedEventAttributes) {
    const failure = event.workflowExecutionFailedEventAttributes.failure;
    // A rollback ends the workflow Failed with its result in the details (workflows/rolled-back.ts): a verdict, not a crash.
    if (failure?.applicationFailureInfo?.type === ROLLED_BACK) {
      const result = decode<RolloutResult>(failure.applicationFailureInfo.details?.payloads?.[0]);
      if (result?.outcome === 'rolled-back') return { kind: 'completed', result };
    }
    return { kind: 'failed', message: failure?.message || 'the workflow failed' };
  }
  if (event.workflowExecutionTerminatedEventAttributes) {
    const reason = event.workflowExecutionTerminatedEventAttributes.reason;
    return { kind: 'terminated', message: `terminated${reason ? `: ${reason}` : ''}` };
  }
  if (event.workflowExecutionTimedOutEventAttributes) return { kind: 'timed-out', message: 'the workflow timed out' };
  if (event.workflowExecutionCanceledEventAttributes) return { kind: 'canceled', message: 'the workflow was cancelled' };
  return undefined;
}

function decode<T>(payload: Payload | null | undefined): T | undefined {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<T>(payload);
  } catch {
    return undefined;
  }
}

function eventTimeMs(event: HistoryEvent): number {
  const ts = event.eventTime;
  if (!ts) return 0;
  return longToNumber(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** Protobuf int64s arrive as Long objects (or numbers, or strings from JSON). */
function longToNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(String(value));
}
