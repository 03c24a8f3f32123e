// A webhook delivery: the event as JSON, with headers that name it
// (x-saferoll-event), deduplicate it (x-saferoll-delivery: the same on every
// retry) and, with a secret, sign it over the timestamp and the raw body.
import type { WebhookTarget } from '../../policies/notification-types.js';
import type { RolloutEvent } from './rollout-event.js';
import { postJson, type PostOptions } from './post.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signatureFor } from './sign.js';
import { fromWorkerEnv } from './worker-env.js';

export async function deliverWebhook(target: WebhookTarget, event: RolloutEvent, env: NodeJS.ProcessEnv, opts: PostOptions, nowSeconds: number): Promise<void> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = { ...target.headers };
  for (const [name, variable] of Object.entries(target.headersEnv)) headers[name] = fromWorkerEnv(env, variable, `header ${name}`);
  headers[EVENT_HEADER] = event.event;
  headers[DELIVERY_HEADER] = event.id;
  headers[TIMESTAMP_HEADER] = String(nowSeconds);
  if (target.secretEnv !== undefined)
    headers[SIGNATURE_HEADER] = signatureFor(fromWorkerEnv(env, target.secretEnv, 'the webhook signing secret'), nowSeconds, body);
  await postJson(target.url, body, headers, `webhook ${new URL(target.url).host}`, opts);
}
