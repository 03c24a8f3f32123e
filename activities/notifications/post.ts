// One POST of a notification, and what its answer means for Temporal's
// retries: 2xx delivered; 5xx, 408, 429 and network errors retried with
// back-off; any other answer (a 404, a refused signature, a redirect, which
// is not followed) is final.
import { ApplicationFailure } from '@temporalio/common';
import { request, type Agent } from 'undici';

const RETRYABLE_STATUS = new Set([408, 425, 429]);
// Enough of an error answer to explain it; the rest is not read.
const MAX_ERROR_TEXT = 300;

export interface PostOptions {
  dispatcher: Agent;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** `where` names the receiver in errors without its secrets. */
export async function postJson(url: string, body: string, headers: Record<string, string>, where: string, opts: PostOptions): Promise<void> {
  let answer: Awaited<ReturnType<typeof request>>;
  try {
    answer = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      signal: opts.signal,
    });
  } catch (err) {
    throw ApplicationFailure.create({ type: 'SAFEROLL_E_NOTIFICATION', message: `${where} unreachable: ${(err as Error).message}`, cause: err as Error });
  }
  const text = await errorText(answer.body);
  if (answer.statusCode >= 200 && answer.statusCode < 300) return;
  const retryable = answer.statusCode >= 500 || RETRYABLE_STATUS.has(answer.statusCode);
  const redirect = answer.statusCode >= 300 && answer.statusCode < 400 ? ' (redirects are not followed: give the final URL)' : '';
  throw ApplicationFailure.create({
    type: 'SAFEROLL_E_NOTIFICATION',
    nonRetryable: !retryable,
    message: `${where} answered ${answer.statusCode}${redirect}${text ? `: ${text}` : ''}`,
  });
}

async function errorText(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += chunk.toString('utf8');
      if (text.length >= MAX_ERROR_TEXT) break;
    }
  } catch {
    // The answer's status is what counts; a body cut short changes nothing.
  } finally {
    body.destroy();
  }
  return text.slice(0, MAX_ERROR_TEXT).trim();
}
