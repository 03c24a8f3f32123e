// Loopback helpers: a free port, and waiting until a URL answers 200.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { freePort } from '../../shared/free-port.js';

export { freePort };

/** Polls `url` until it answers 200; fails early when `exited` settles first. */
export async function waitForHttp(url: string, timeoutMs: number, exited?: () => Promise<unknown>): Promise<void> {
  let gone = false;
  void exited?.().then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the process exited before ${url} answered`);
    try {
      const answer = await request(url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await answer.body.dump();
      if (answer.statusCode === 200) return;
      last = `status ${answer.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
