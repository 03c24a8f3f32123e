// Where a rollout reports what happens to it: the `notifications:` targets of
// a policy, as plain JSON. Secrets are named, never held: an HMAC secret or a
// Slack URL is read from the worker's environment by name at delivery time,
// so it never enters the policy or Temporal history. Imports nothing, so
// workflow code can use it.

/** The events a rollout announces, in the order a rollout meets them. */
export const NOTIFICATION_EVENTS = ['started', 'stepStarted', 'gateFailed', 'waitingForApproval', 'paused', 'resumed', 'rolledBack', 'promoted'] as const;

export type NotificationEventName = (typeof NOTIFICATION_EVENTS)[number];

/** POSTs each event as JSON, signed with the secret in `secretEnv` when one is named. */
export interface WebhookTarget {
  kind: 'webhook';
  url: string;
  /** Name of the worker's environment variable holding the HMAC-SHA256 secret. */
  secretEnv?: string;
  /** Sent as is with every delivery: plain values only, never credentials. */
  headers: Record<string, string>;
  /** Header name -> name of the worker's environment variable holding its value (credentials). */
  headersEnv: Record<string, string>;
}

/** Posts a short message in Slack's incoming-webhook format; exactly one of `url` and `urlEnv`. */
export interface SlackTarget {
  kind: 'slack';
  /** Only for a receiver whose URL is no secret (a relay of your own): a Slack URL is refused here. */
  url?: string;
  /** Name of the worker's environment variable holding the incoming-webhook URL. */
  urlEnv?: string;
}

export type NotificationTarget = (WebhookTarget | SlackTarget) & {
  /** The events this target receives; absent means all of them. */
  events?: NotificationEventName[];
};
