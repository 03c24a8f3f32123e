// What a rollout tells its notification targets (the RolloutEvent of
// activities/notifications/rollout-event.ts), built from the rollout's status
// at the moment it happens. Pure, so the workflow builds it deterministically
// (workflow time, no I/O) and the activities only carry it.
import type { RolloutEvent } from '../activities/types.js';
import type { NotificationEventName, NotificationTarget } from '../policies/notification-types.js';
import type { RolloutStatus } from './types.js';

export interface EventContext {
  workflowId: string;
  runId: string;
  /** The first run of the rollout: stays the same across continue-as-new, unlike runId. */
  rolloutRunId: string;
  atMs: number;
}

export function buildEvent(event: NotificationEventName, seq: number, status: RolloutStatus, context: EventContext, reason?: string): RolloutEvent {
  const gate = status.lastGate;
  return {
    id: `${context.rolloutRunId}-${seq}`,
    seq,
    event,
    at: new Date(context.atMs).toISOString(),
    endpoint: status.endpoint,
    workflowId: context.workflowId,
    runId: context.runId,
    policy: status.policy,
    green: status.green,
    blue: status.blue,
    step: { index: Math.min(status.stepIndex + 1, status.stepCount), total: status.stepCount, description: status.step },
    phase: status.phase,
    greenTrafficPercent: status.traffic.green,
    mirrorPercent: status.mirrorPercent,
    ...(reason === undefined ? {} : { reason }),
    ...(gate === undefined
      ? {}
      : {
          gate: {
            phase: gate.phase,
            summary: gate.summary,
            window: gate.window,
            greenRequests: gate.greenRequests,
            blueRequests: gate.blueRequests,
            checks: gate.checks,
          },
        }),
  };
}

/** Whether a target's filter lets the event through (no filter: every event). */
export function wants(target: NotificationTarget, event: NotificationEventName): boolean {
  return target.events === undefined || target.events.includes(event);
}
