// Notification deliveries against a real HTTP receiver on loopback: what a
// webhook receiver gets and how it checks the signature, what Slack gets,
// and which answers Temporal retries.
import { createHmac } from 'node:crypto';
import { ApplicationFailure, type LogLevel, type LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotificationActivities } from '../../activities/notifications/index.js';
import { verifySignature } from '../../activities/notifications/sign.js';
import type { SlackTarget, WebhookTarget } from '../../policies/notification-types.js';
import type { RolloutEvent } from '../../activities/types.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-test-5f2c';
const SLACK: SlackTarget = { kind: 'slack', urlEnv: 'SLACK_URL' };

const event: RolloutEvent = {
  id: 'run-1-5',
  seq: 5,
  event: 'gateFailed',
  at: '2026-01-02T03:04:05.000Z',
  endpoint: 'orders',
  workflowId: 'rollout-orders',
  runId: 'run-1',
  policy: 'safe-rollout',
  green: 'v2 <beta>',
  blue: 'v1',
  step: { index: 3, total: 7, description: 'mirror 10% 2m' },
  phase: 'Mirror',
  greenTrafficPercent: 0,
  mirrorPercent: 10,
  reason: 'failed: errors 50.0% > 1%',
  gate: {
    phase: 'Failed',
    summary: 'failed: errors 50.0% > 1%',
    window: 'step',
    greenRequests: 100,
    blueRequests: 900,
    checks: [{ metric: 'errorRate', value: 0.5, limit: 0.01, phase: 'Failed' }],
  },
};

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(statusFor?: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(statusFor);
  receivers.push(r);
  return r;
}

/** An activity run as the worker runs it; `warnings` collects what it logs. */
function activityEnv(attempt = 1) {
  const warnings: string[] = [];
  const logger = {
    log: (level: LogLevel, message: string, _meta?: LogMetadata) => void (level === 'WARN' && warnings.push(message)),
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => void warnings.push(message),
    error: () => undefined,
  };
  return { env: new MockActivityEnvironment({ attempt }, { logger }), warnings };
}

function webhook(url: string, extra: Partial<WebhookTarget> = {}): WebhookTarget {
  return { kind: 'webhook', url: `${url}/hooks/saferoll`, secretEnv: 'HOOK_SECRET', headers: {}, headersEnv: {}, ...extra };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

describe('webhook delivery', () => {
  it('POSTs the event as JSON with its name, its delivery id and a signature the secret verifies', async () => {
    const r = await receiver();
    const { notifyWebhook } = createNotificationActivities({ env: { HOOK_SECRET: SECRET } });
    await activityEnv().env.run(notifyWebhook, webhook(r.url), event);

    expect(r.requests).toHaveLength(1);
    const got = r.requests[0]!;
    expect(got.method).toBe('POST');
    expect(got.path).toBe('/hooks/saferoll');
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body)).toEqual(event);
    expect(got.headers['x-saferoll-event']).toBe('gateFailed');
    expect(got.headers['x-saferoll-delivery']).toBe('run-1-5');

    // What a receiver does (README): HMAC-SHA256 over "<timestamp>.<raw body>".
    const timestamp = String(got.headers['x-saferoll-timestamp']);
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${got.body}`).digest('hex')}`;
    expect(got.headers['x-saferoll-signature']).toBe(expected);
    const delivery = { body: got.body, timestamp, signature: String(got.headers['x-saferoll-signature']) };
    expect(verifySignature(SECRET, delivery)).toBe(true);
    expect(verifySignature('another secret', delivery)).toBe(false);
    expect(verifySignature(SECRET, { ...delivery, body: got.body.replace('"seq":5', '"seq":6') })).toBe(false);
    expect(verifySignature(SECRET, { ...delivery, timestamp: String(Number(timestamp) - 1) })).toBe(false);
    // A delivery replayed later than the tolerance is refused.
    expect(verifySignature(SECRET, delivery, Number(timestamp) + 301)).toBe(false);
  });

  it('sends the policy headers and those read from the environment, and no signature without a secret', async () => {
    const r = await receiver();
    const { notifyWebhook } = createNotificationActivities({ env: { HOOK_TOKEN: 'Bearer t0k3n' } });
    const target = webhook(r.url, { headers: { 'x-team': 'payments' }, headersEnv: { Authorization: 'HOOK_TOKEN' } });
    delete target.secretEnv;
    await activityEnv().env.run(notifyWebhook, target, event);
    const got = r.requests[0]!;
    expect(got.headers['x-team']).toBe('payments');
    expect(got.headers.authorization).toBe('Bearer t0k3n');
    expect(got.headers['x-saferoll-signature']).toBeUndefined();
    expect(got.headers['x-saferoll-delivery']).toBe('run-1-5');
  });

  it('a 500 is retried (the failure is retryable) and the retry carries the same delivery id', async () => {
    const r = await receiver((_req, index) => (index === 0 ? 500 : 200));
    const { notifyWebhook } = createNotificationActivities({ env: { HOOK_SECRET: SECRET } });
    const first = activityEnv(1);
    const failure = await failureOf(first.env.run(notifyWebhook, webhook(r.url), event));
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('SAFEROLL_E_NOTIFICATION');
    expect(failure.message).toBe(`webhook ${new URL(r.url).host} answered 500: refused with 500`);
    expect(first.warnings.some((w) => w.includes('attempt 1') && w.includes('answered 500'))).toBe(true);

    await activityEnv(2).env.run(notifyWebhook, webhook(r.url), event);
    expect(r.requests.map((q) => q.headers['x-saferoll-delivery'])).toEqual(['run-1-5', 'run-1-5']);
    for (const q of r.requests) {
      expect(
        verifySignature(SECRET, { body: q.body, timestamp: String(q.headers['x-saferoll-timestamp']), signature: String(q.headers['x-saferoll-signature']) }),
      ).toBe(true);
    }
  });

  it('a 429 or an unreachable receiver is retried; a 404 or a redirect is final', async () => {
    const { notifyWebhook } = createNotificationActivities({ env: { HOOK_SECRET: SECRET } });
    const statuses = [429, 404, 302];
    const r = await receiver((_req, index) => statuses[index] ?? 200);
    const outcomes = [];
    for (let i = 0; i < statuses.length; i++) outcomes.push(await failureOf(activityEnv().env.run(notifyWebhook, webhook(r.url), event)));
    expect(outcomes.map((f) => f.nonRetryable)).toEqual([false, true, true]);
    expect(outcomes[2]?.message).toMatch(/answered 302 \(redirects are not followed/);

    const closed = await receiver();
    const url = closed.url;
    await closed.close();
    const unreachable = await failureOf(activityEnv().env.run(notifyWebhook, webhook(url), event));
    expect(unreachable.nonRetryable).toBe(false);
    expect(unreachable.message).toMatch(/unreachable/);
  });

  it('a secret missing from the worker environment fails at once, naming the variable, and sends nothing', async () => {
    const r = await receiver();
    const { notifyWebhook } = createNotificationActivities({ env: {} });
    const run = activityEnv();
    const failure = await failureOf(run.env.run(notifyWebhook, webhook(r.url), event));
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('environment variable HOOK_SECRET (the webhook signing secret) is not set on the worker: set it where `saferoll worker` runs');
    expect(run.warnings.some((w) => w.includes('HOOK_SECRET'))).toBe(true);
    expect(r.requests).toHaveLength(0);
  });
});

describe('Slack delivery', () => {
  it('posts an incoming-webhook message to the URL in the environment', async () => {
    const r = await receiver();
    const { notifySlack } = createNotificationActivities({ env: { SLACK_URL: `${r.url}/services/T0/B0/secret` } });
    await activityEnv().env.run(notifySlack, SLACK, event);
    const got = r.requests[0]!;
    expect(got.path).toBe('/services/T0/B0/secret');
    expect(got.headers['content-type']).toBe('application/json');
    const message = JSON.parse(got.body) as { text: string; blocks: { type: string; text?: { type: string; text: string }; elements?: { text: string }[] }[] };
    expect(message.text).toBe('Gate failed on orders at step 3/7 (mirror 10% 2m): failed: errors 50.0% &gt; 1%');
    expect(message.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
    expect(message.blocks[0]?.text).toEqual({
      type: 'mrkdwn',
      text: ':warning: Gate failed on *orders* at step 3/7 (mirror 10% 2m): failed: errors 50.0% &gt; 1%',
    });
    expect(message.blocks[1]?.text?.text).toBe('*gate Failed* (step window, green n=100): failed: errors 50.0% &gt; 1%');
    expect(message.blocks[2]?.elements?.[0]?.text).toBe(
      'green `v2 &lt;beta&gt;` 0% (mirror 10%) · blue `v1` · policy safe-rollout · rollout-orders #5 · 2026-01-02T03:04:05.000Z',
    );
  });

  it('never names the secret URL in a failure', async () => {
    const r = await receiver(() => 404);
    const { notifySlack } = createNotificationActivities({ env: { SLACK_URL: `${r.url}/services/T0/B0/secret` } });
    const run = activityEnv();
    const failure = await failureOf(run.env.run(notifySlack, SLACK, { ...event, event: 'promoted' as const }));
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('Slack webhook ($SLACK_URL) answered 404: refused with 404');
    expect([failure.message, ...run.warnings].join('\n')).not.toContain('secret');
  });
});
