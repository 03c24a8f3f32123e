// The `notifications:` section of a policy: the targets it accepts, and every
// mistake (and every secret written in clear) reported at its file:line:col.
import { describe, expect, test } from 'vitest';
import { parsePolicy } from '../../policies/loader.js';
import { problemsOf } from '../support/policy-problems.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const head = ['name: t', 'slo:', '  latency: { p95: 250ms }', 'steps:', '  - create:', '  - traffic: { percent: 100, for: 5s }'];

describe('notifications in a policy', () => {
  test('webhook and slack targets, with and without an event filter', () => {
    const policy = parsePolicy(
      yaml(
        ...head,
        'notifications:',
        '  - webhook:',
        '      url: https://hooks.example.com/saferoll',
        '      secretEnv: SAFEROLL_WEBHOOK_SECRET',
        '      headers: { x-team: payments }',
        '      headersEnv: { Authorization: HOOK_TOKEN }',
        '  - slack: { urlEnv: SLACK_WEBHOOK_URL }',
        '    events: [promoted, rolledBack, gateFailed]',
        '  - slack: { url: "http://127.0.0.1:9000/relay" }',
      ),
      'p.yaml',
    );
    expect(policy.notifications).toStrictEqual([
      {
        kind: 'webhook',
        url: 'https://hooks.example.com/saferoll',
        secretEnv: 'SAFEROLL_WEBHOOK_SECRET',
        headers: { 'x-team': 'payments' },
        headersEnv: { Authorization: 'HOOK_TOKEN' },
      },
      // The filter in the order a rollout meets the events.
      { kind: 'slack', urlEnv: 'SLACK_WEBHOOK_URL', events: ['gateFailed', 'rolledBack', 'promoted'] },
      { kind: 'slack', url: 'http://127.0.0.1:9000/relay' },
    ]);
  });

  test('a policy without notifications (or with an empty list) has no notifications field', () => {
    expect('notifications' in parsePolicy(yaml(...head), 'p.yaml')).toBe(false);
    expect('notifications' in parsePolicy(yaml(...head, 'notifications: []'), 'p.yaml')).toBe(false);
  });

  test('every mistake at its file:line:col', () => {
    expect(
      problemsOf(
        yaml(
          ...head,
          'notifications:',
          '  - webhook: { url: "ftp://x", secretEnv: 1ab, headers: { Authorization: x, X-Saferoll-Event: y, "bad name": z } }',
          '    events: [nope]',
          '  - slack: {}',
          '  - {}',
          '  - webhook: { url: "https://u:p@hooks.example.com/" }',
          '  - slack: { url: "http://relay", urlEnv: SLACK }',
          '    events: []',
          '  - webhook: { url: "not a url" }',
        ),
      ),
    ).toEqual([
      'p.yaml:8:21: notifications.0.webhook.url: must be an http or https URL, got ftp',
      'p.yaml:8:43: notifications.0.webhook.secretEnv: must be the name of an environment variable (letters, digits and _, not starting with a digit)',
      'p.yaml:8:59: notifications.0.webhook.headers.Authorization: "Authorization" carries a credential and a policy is stored in Temporal history: name an environment variable in headersEnv instead',
      'p.yaml:8:77: notifications.0.webhook.headers.X-Saferoll-Event: "X-Saferoll-Event" is set by saferoll',
      `p.yaml:8:98: notifications.0.webhook.headers."bad name": "bad name" is not a header name`,
      'p.yaml:9:14: notifications.0.events.0: must be one of started, stepStarted, gateFailed, waitingForApproval, paused, resumed, rolledBack, promoted, got "nope"',
      'p.yaml:10:5: notifications.1.slack: needs urlEnv: the environment variable holding the incoming-webhook URL',
      'p.yaml:11:5: notifications.2: a notification target needs webhook or slack',
      'p.yaml:12:21: notifications.3.webhook.url: must not carry credentials (a policy is stored in Temporal history): name an environment variable in secretEnv or headersEnv instead',
      'p.yaml:13:14: notifications.4.slack.url: give url or urlEnv, not both',
      'p.yaml:14:13: notifications.4.events: needs at least one event; leave events out to receive all of them',
      'p.yaml:15:21: notifications.5.webhook.url: "not a url" is not a URL: write it in full, e.g. https://hooks.example.com/saferoll',
    ]);
  });

  test('a Slack incoming-webhook URL written in the policy is refused: it is a secret', () => {
    expect(problemsOf(yaml(...head, 'notifications:', '  - slack: { url: "https://hooks.slack.com/services/T0/B0/XXXX" }'))).toEqual([
      "p.yaml:8:19: notifications.0.slack.url: a Slack incoming-webhook URL is a secret (anyone holding it can post) and a policy is stored in Temporal history: set it in the worker's environment and name the variable with urlEnv",
    ]);
  });

  test('a header given both in clear and from the environment, one target with two kinds, too many targets', () => {
    expect(problemsOf(yaml(...head, 'notifications:', '  - webhook: { url: "http://h/", headers: { x-a: "1" }, headersEnv: { X-A: A } }'))).toEqual([
      'p.yaml:8:71: notifications.0.webhook.headersEnv.X-A: "X-A" is also in headers: give it once',
    ]);
    expect(problemsOf(yaml(...head, 'notifications:', '  - webhook: { url: "http://h/" }', '    slack: { urlEnv: S }'))).toEqual([
      'p.yaml:9:5: notifications.0.slack: one target per item: give slack its own "- " item',
    ]);
    const many = Array.from({ length: 11 }, () => '  - slack: { urlEnv: S }');
    expect(problemsOf(yaml(...head, 'notifications:', ...many))).toEqual(['p.yaml:8:3: notifications: takes at most 10 targets']);
  });
});
