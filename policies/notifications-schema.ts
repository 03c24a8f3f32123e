// The `notifications:` section of a policy: a list of targets, each a
// `webhook` or a `slack` with an optional `events` filter. Everything in a
// policy ends up in Temporal history, so secrets are refused here and named
// instead (`secretEnv`, `urlEnv`, `headersEnv`): the worker reads them from
// its environment when it delivers.
//
//   notifications:
//     - webhook: { url, secretEnv?, headers?, headersEnv? }
//       events: [started, promoted, ...]     [all events]
//     - slack: { urlEnv } | { url }           (url: only a receiver whose URL is no secret)

import { z } from 'zod';
import { NOTIFICATION_EVENTS, type NotificationTarget } from './notification-types.js';

const MAX_TARGETS = 10;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 token characters.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers saferoll sets itself, or that would break the request.
const SET_BY_SAFEROLL = new Set([
  'content-type',
  'content-length',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
// An incoming-webhook URL of Slack carries its secret in the path: anyone holding it can post.
const SLACK_HOSTS = ['hooks.slack.com', 'hooks.slack-gov.com'];

const IN_HISTORY = 'a policy is stored in Temporal history';

function envName() {
  return z.string().regex(ENV_NAME, { error: 'must be the name of an environment variable (letters, digits and _, not starting with a digit)' });
}

function httpUrl() {
  return z.string().check((ctx) => {
    const problem = urlProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
  });
}

function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL: write it in full, e.g. https://hooks.example.com/saferoll`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https URL, got ${url.protocol.slice(0, -1)}`;
  if (url.username || url.password) return `must not carry credentials (${IN_HISTORY}): name an environment variable in secretEnv or headersEnv instead`;
  return undefined;
}

/** Header names: tokens, not set by saferoll, each once whatever its case. */
function headerMap<V extends z.ZodType<string>>(value: V, credentialsAllowed: boolean) {
  return z.record(z.string(), value).check((ctx) => {
    const seen = new Set<string>();
    for (const name of Object.keys(ctx.value)) {
      const lower = name.toLowerCase();
      let message: string | undefined;
      if (!HEADER_NAME.test(name)) message = `"${name}" is not a header name`;
      else if (SET_BY_SAFEROLL.has(lower) || lower.startsWith('x-saferoll-')) message = `"${name}" is set by saferoll`;
      else if (!credentialsAllowed && CREDENTIAL_HEADERS.has(lower))
        message = `"${name}" carries a credential and ${IN_HISTORY}: name an environment variable in headersEnv instead`;
      else if (seen.has(lower)) message = `"${name}" is given twice`;
      seen.add(lower);
      if (message) ctx.issues.push({ code: 'custom', input: ctx.value, path: [name], params: { at: 'key' }, message });
    }
  });
}

const headerValue = z.string().regex(/^[^\r\n\0]*$/, { error: 'must be one line of text' });

const webhookSchema = z
  .strictObject({
    url: httpUrl(),
    secretEnv: envName().optional(),
    headers: headerMap(headerValue, false).default(() => ({})),
    headersEnv: headerMap(envName(), true).default(() => ({})),
  })
  .check((ctx) => {
    const plain = new Set(Object.keys(ctx.value.headers).map((h) => h.toLowerCase()));
    for (const name of Object.keys(ctx.value.headersEnv)) {
      if (plain.has(name.toLowerCase())) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          path: ['headersEnv', name],
          params: { at: 'key' },
          message: `"${name}" is also in headers: give it once`,
        });
      }
    }
  });

const slackSchema = z.strictObject({ url: httpUrl().optional(), urlEnv: envName().optional() }).check((ctx) => {
  const { url, urlEnv } = ctx.value;
  if ((url === undefined) === (urlEnv === undefined)) {
    const message = url === undefined ? 'needs urlEnv: the environment variable holding the incoming-webhook URL' : 'give url or urlEnv, not both';
    ctx.issues.push({ code: 'custom', input: ctx.value, path: url === undefined ? [] : ['url'], params: { at: 'key' }, message });
    return;
  }
  if (url !== undefined && SLACK_HOSTS.some((host) => new URL(url).hostname === host)) {
    ctx.issues.push({
      code: 'custom',
      input: url,
      path: ['url'],
      message: `a Slack incoming-webhook URL is a secret (anyone holding it can post) and ${IN_HISTORY}: set it in the worker's environment and name the variable with urlEnv`,
    });
  }
});

const eventsSchema = z.array(z.enum(NOTIFICATION_EVENTS)).min(1, { error: 'needs at least one event; leave events out to receive all of them' });

const targetSchema = z
  .strictObject({ webhook: webhookSchema.optional(), slack: slackSchema.optional(), events: eventsSchema.optional() })
  .check((ctx) => {
    const { webhook, slack } = ctx.value;
    if (webhook === undefined && slack === undefined) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: 'a notification target needs webhook or slack' });
    } else if (webhook !== undefined && slack !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['slack'],
        params: { at: 'key' },
        message: 'one target per item: give slack its own "- " item',
      });
    }
  })
  .transform(({ webhook, slack, events }): NotificationTarget => {
    // Events in a fixed order and each once, so equal filters compare equal.
    const filter = events === undefined ? {} : { events: NOTIFICATION_EVENTS.filter((e) => events.includes(e)) };
    if (webhook) {
      return {
        kind: 'webhook',
        url: webhook.url,
        ...(webhook.secretEnv === undefined ? {} : { secretEnv: webhook.secretEnv }),
        headers: webhook.headers,
        headersEnv: webhook.headersEnv,
        ...filter,
      };
    }
    return { kind: 'slack', ...(slack?.urlEnv !== undefined ? { urlEnv: slack.urlEnv } : { url: slack?.url ?? '' }), ...filter };
  });

export const notificationsSchema = z.array(targetSchema).max(MAX_TARGETS, { error: `takes at most ${MAX_TARGETS} targets` });
