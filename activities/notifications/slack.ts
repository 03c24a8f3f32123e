// A Slack delivery: the event as a short message in the incoming-webhook
// format (`text` for notifications and old clients, `blocks` for the
// channel). The URL is a secret, so it is read from the worker's environment
// and never named in errors.
import type { SlackTarget } from '../../policies/notification-types.js';
import type { RolloutEvent } from './rollout-event.js';
import { postJson, type PostOptions } from './post.js';
import { fromWorkerEnv } from './worker-env.js';

export interface SlackMessage {
  text: string;
  blocks: ({ type: 'section'; text: { type: 'mrkdwn'; text: string } } | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] })[];
}

export async function deliverSlack(target: SlackTarget, event: RolloutEvent, env: NodeJS.ProcessEnv, opts: PostOptions): Promise<void> {
  const url = target.urlEnv !== undefined ? fromWorkerEnv(env, target.urlEnv, 'the Slack incoming-webhook URL') : (target.url ?? '');
  const where = target.urlEnv !== undefined ? `Slack webhook ($${target.urlEnv})` : `Slack webhook ${new URL(url).host}`;
  await postJson(url, JSON.stringify(slackMessage(event)), {}, where, opts);
}

export function slackMessage(e: RolloutEvent): SlackMessage {
  const headline = headlineOf(e);
  const context = [
    `green \`${esc(e.green)}\` ${e.greenTrafficPercent}%${e.mirrorPercent > 0 ? ` (mirror ${e.mirrorPercent}%)` : ''}`,
    `blue \`${esc(e.blue)}\``,
    `policy ${esc(e.policy)}`,
    `${e.workflowId} #${e.seq}`,
    e.at,
  ].join(' · ');
  const blocks: SlackMessage['blocks'] = [{ type: 'section', text: { type: 'mrkdwn', text: headline } }];
  if (e.reason !== undefined && e.event !== 'gateFailed') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `>${esc(e.reason)}` } });
  if (e.gate !== undefined && (e.event === 'gateFailed' || e.event === 'rolledBack')) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*gate ${e.gate.phase}* (${e.gate.window} window, green n=${e.gate.greenRequests}): ${esc(e.gate.summary)}` },
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context }] });
  return { text: plain(headline), blocks };
}

function headlineOf(e: RolloutEvent): string {
  const where = `*${esc(e.endpoint)}*`;
  const step = `step ${e.step.index}/${e.step.total} (${esc(e.step.description)})`;
  switch (e.event) {
    case 'started':
      return `:rocket: Rollout of \`${esc(e.green)}\` on ${where} started, replacing \`${esc(e.blue)}\``;
    case 'stepStarted':
      return `:arrow_forward: ${where}: ${step}`;
    case 'gateFailed':
      return `:warning: Gate failed on ${where} at ${step}: ${esc(e.gate?.summary ?? e.reason ?? '')}`;
    case 'waitingForApproval':
      return `:raised_hand: ${where} waits for approval at ${step}: \`saferoll approve ${esc(e.endpoint)}\``;
    case 'paused':
      return `:double_vertical_bar: ${where} paused at ${step}`;
    case 'resumed':
      return `:arrow_forward: ${where} resumed at ${step}`;
    case 'rolledBack':
      return `:rewind: ${where} rolled back to \`${esc(e.blue)}\``;
    case 'promoted':
      return `:white_check_mark: \`${esc(e.green)}\` promoted on ${where}`;
  }
}

/** Slack's mrkdwn treats these three as markup. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The notification text: no emoji codes or markup. */
function plain(headline: string): string {
  return headline.replace(/^:[a-z_]+: /, '').replace(/[*`]/g, '');
}
