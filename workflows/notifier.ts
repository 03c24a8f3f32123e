// Sends the rollout's events (told by the tracker) to the policy's
// notification targets through activities, and never holds the rollout up or
// fails it: deliveries are started and not awaited, in a scope an abort does
// not cancel, each retried within a bounded time; one that still fails is a
// line in the decision log. With no targets it does nothing at all, so a
// policy without notifications schedules exactly the commands it always did.
import { CancellationScope, condition, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/types.js';
import type { NotificationEventName, NotificationTarget } from '../policies/notification-types.js';
import { buildEvent, wants } from './notification-event.js';
import type { RolloutTracker } from './rollout-tracker.js';

// A receiver down for a minute misses the event rather than keeping it pending forever.
export const DELIVERY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
};
// A little over scheduleToCloseTimeout: by then every delivery has ended one way or the other.
const DRAIN_TIMEOUT = '65s';

export class Notifier {
  private inFlight = 0;

  constructor(
    private readonly targets: readonly NotificationTarget[],
    private readonly tracker: RolloutTracker,
  ) {
    if (targets.length > 0) tracker.onEvent((event, reason) => this.send(event, reason));
  }

  /** No delivery under way: a run may continue as new without abandoning one. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  /**
   * Waits (bounded) for deliveries still under way, so the last events are
   * not abandoned when the workflow ends. Traffic is final by then.
   */
  async drain(): Promise<void> {
    // No timer when nothing is pending: histories without notifications stay as they were.
    if (this.inFlight === 0) return;
    await CancellationScope.nonCancellable(() => condition(() => this.inFlight === 0, DRAIN_TIMEOUT));
  }

  private send(event: NotificationEventName, reason: string | undefined): void {
    const status = this.tracker.status;
    const seq = (status.notificationSeq ?? 0) + 1;
    status.notificationSeq = seq;
    const info = workflowInfo();
    const payload = buildEvent(
      event,
      seq,
      status,
      { workflowId: info.workflowId, runId: info.runId, rolloutRunId: info.firstExecutionRunId, atMs: Date.now() },
      reason,
    );
    for (const target of this.targets) {
      if (!wants(target, event)) continue;
      const label = targetLabel(target);
      const activities = proxyActivities<RolloutActivities>({ ...DELIVERY_OPTIONS, summary: `notify ${label}: ${event} #${seq}` });
      this.inFlight++;
      // An abort cancels the plan's scope; the events that tell of it must still go out.
      const delivery = CancellationScope.nonCancellable(() =>
        target.kind === 'webhook' ? activities.notifyWebhook(target, payload) : activities.notifySlack(target, payload),
      );
      void delivery
        .catch((err: unknown) => this.tracker.decide('notify', `notification "${event}" #${seq} to ${label} not delivered: ${causeOf(err)}`))
        .finally(() => this.inFlight--);
    }
  }
}

/** Names a target without its secrets: a webhook by host, Slack by its variable. */
export function targetLabel(target: NotificationTarget): string {
  if (target.kind === 'webhook') return `webhook ${hostOf(target.url)}`;
  return target.urlEnv !== undefined ? `slack ($${target.urlEnv})` : `slack ${hostOf(target.url ?? '')}`;
}

function hostOf(url: string): string {
  return /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? url;
}

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}
