// A real rollout (Temporal dev server, routing core, model server processes,
// client traffic) telling a real webhook receiver on loopback what happens,
// with the signing secret read from the worker's environment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../activities/notifications/sign.js';
import type { RolloutEvent } from '../../activities/types.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

const SECRET_ENV = 'SAFEROLL_TEST_WEBHOOK_SECRET';
const SECRET = `real-stack-${process.pid}`;

let bed: RolloutTestBed;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // The worker runs in this process: this is its environment.
  process.env[SECRET_ENV] = SECRET;
  // The first delivery is refused with a 500: Temporal must retry it.
  receiver = await startWebhookReceiver((_request, index) => (index === 0 ? 500 : 200));
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});
afterAll(async () => {
  await bed?.close();
  await receiver?.close();
});

describe('notifications from a real rollout', () => {
  it('delivers started, every step and promoted to a webhook, each signed, a refused delivery retried', async () => {
    const key = await createEndpointWithBlue(bed.router, 'notify-ok');
    const load = startLoad(bed.router.router.dataUrl, 'notify-ok', key);
    const policy = testPolicy({
      notifications: [{ kind: 'webhook', url: `${receiver.url}/saferoll`, secretEnv: SECRET_ENV, headers: { 'x-team': 'payments' }, headersEnv: {} }],
    });
    const handle = await bed.start('notify-ok', modelServer('green', { LATENCY_MS: '5' }), policy);
    const result = await rolloutResult(handle);
    expect((await load.stop()).failures).toEqual([]);
    expect(result.outcome, result.reason).toBe('promoted');

    // Every delivery, the refused one and its retry included, is signed with the secret.
    const requests = receiver.requests;
    for (const r of requests) {
      const signed = { body: r.body, timestamp: String(r.headers['x-saferoll-timestamp']), signature: String(r.headers['x-saferoll-signature']) };
      expect(verifySignature(SECRET, signed), r.body).toBe(true);
      expect(r.path).toBe('/saferoll');
      expect(r.headers['x-team']).toBe('payments');
      const body = JSON.parse(r.body) as RolloutEvent;
      expect(r.headers['x-saferoll-event']).toBe(body.event);
      expect(r.headers['x-saferoll-delivery']).toBe(body.id);
    }
    // The refused delivery came again, under the same delivery id.
    const refusedId = requests[0]?.headers['x-saferoll-delivery'];
    expect(requests.slice(1).filter((r) => r.headers['x-saferoll-delivery'] === refusedId)).toHaveLength(1);

    const events = [...new Map(requests.map((r) => JSON.parse(r.body) as RolloutEvent).map((e) => [e.id, e])).values()].sort((a, b) => a.seq - b.seq);
    expect(requests).toHaveLength(events.length + 1);
    expect(events.map((e) => e.event)).toEqual([
      'started',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'promoted',
    ]);
    expect(events.map((e) => e.step.description)).toEqual([
      'create',
      'create',
      'smoke ×3',
      'mirror 50% 3s',
      'traffic 10% 3s',
      'traffic 100% 2s',
      'deleteBlue',
      'deleteBlue',
    ]);
    expect(events.at(-1)).toMatchObject({
      seq: 8,
      endpoint: 'notify-ok',
      workflowId: 'rollout-notify-ok',
      runId: handle.firstExecutionRunId,
      policy: 'test',
      green: 'green',
      blue: 'blue',
      phase: 'Promoted',
      greenTrafficPercent: 100,
      mirrorPercent: 0,
    });
    expect(result.decisions.filter((d) => d.kind === 'notify')).toEqual([]);
  });
});
