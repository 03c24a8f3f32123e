// The notification activities: one delivery of one event to one target.
// Temporal retries them with back-off (the workflow's DELIVERY_OPTIONS);
// each attempt is one POST, and the event id stays the same across attempts
// so a receiver can drop a duplicate.
import { Context, log } from '@temporalio/activity';
import { Agent } from 'undici';
import type { SlackTarget, WebhookTarget } from '../../policies/notification-types.js';
import type { RolloutEvent } from './rollout-event.js';
import { deliverSlack } from './slack.js';
import { deliverWebhook } from './webhook.js';

export interface NotificationDeps {
  /** Where secrets named in the policy are read, at each delivery. */
  env?: NodeJS.ProcessEnv;
  /** One attempt's limit; below the activity's startToCloseTimeout (10s). */
  timeoutMs?: number;
}

export function createNotificationActivities(deps: NotificationDeps = {}) {
  const env = deps.env ?? process.env;
  const timeoutMs = deps.timeoutMs ?? 8_000;
  const dispatcher = new Agent({ keepAliveTimeout: 5_000, connect: { timeout: timeoutMs } });

  /** Runs one attempt, logging a failure with what failed and which attempt it was. */
  async function attempt(what: string, deliver: () => Promise<void>): Promise<void> {
    try {
      await deliver();
    } catch (err) {
      log.warn(`notification not delivered: ${what}, attempt ${Context.current().info.attempt}: ${(err as Error).message}`);
      throw err;
    }
  }

  return {
    async notifyWebhook(target: WebhookTarget, event: RolloutEvent): Promise<void> {
      const signal = Context.current().cancellationSignal;
      await attempt(`"${event.event}" #${event.seq} to webhook ${new URL(target.url).host}`, () =>
        deliverWebhook(target, event, env, { dispatcher, timeoutMs, signal }, Math.floor(Date.now() / 1000)),
      );
    },

    async notifySlack(target: SlackTarget, event: RolloutEvent): Promise<void> {
      const signal = Context.current().cancellationSignal;
      const where = target.urlEnv !== undefined ? `$${target.urlEnv}` : new URL(target.url ?? '').host;
      await attempt(`"${event.event}" #${event.seq} to Slack ${where}`, () => deliverSlack(target, event, env, { dispatcher, timeoutMs, signal }));
    },
  };
}
