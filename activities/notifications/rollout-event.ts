// What a rollout tells its notification targets: one JSON object per event.
// The workflow builds it (workflows/notification-event.ts), the notification
// activities deliver it as it is.
import type { GateCheck, GatePhase } from '../../analysis/evaluate.js';
import type { NotificationEventName } from '../../policies/notification-types.js';
import type { RolloutPhase } from '../../shared/contracts.js';

export interface RolloutEvent {
  /** Unique per event of a rollout and the same on every retry: the idempotency key (x-saferoll-delivery). */
  id: string;
  /** Counts the rollout's events from 1 across continue-as-new: deliveries may arrive out of order. */
  seq: number;
  event: NotificationEventName;
  /** Workflow time of the event, ISO 8601. */
  at: string;
  endpoint: string;
  workflowId: string;
  runId: string;
  policy: string;
  green: string;
  blue: string;
  /** `index` counts from 1, as the CLI and the UI show it. */
  step: { index: number; total: number; description: string };
  phase: RolloutPhase;
  greenTrafficPercent: number;
  mirrorPercent: number;
  reason?: string;
  /** The latest gate reading of the step, when there is one. */
  gate?: {
    phase: GatePhase;
    summary: string;
    window: 'step' | 'interval';
    greenRequests: number;
    blueRequests: number;
    checks: GateCheck[];
  };
}
