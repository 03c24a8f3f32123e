// One bounded HTTP exchange for metric providers: a timeout over the whole
// exchange, a cap on the body read, and every failure as an error reading
// (status and first bytes), never a throw.
import { request } from 'undici';
import { firstBytes } from '../metric-provider.js';

/** A JSON answer larger than this is not a metric (it is a dump); refused rather than buffered. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** A failure keeps the status and body of a non-2xx answer, for providers whose errors are JSON (Prometheus). */
export type HttpAnswer = { ok: true; status: number; json: unknown } | { ok: false; message: string; status?: number; body?: string };

export interface HttpCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  timeoutMs: number;
  /** Default MAX_ANSWER_BYTES. */
  maxBytes?: number;
}

export async function callJson(call: HttpCall): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(call.timeoutMs);
  let text: string;
  let status: number;
  try {
    const res = await request(call.url, { method: call.method as 'GET', headers: call.headers, body: call.body, signal });
    status = res.statusCode;
    text = await readCapped(res.body, call.maxBytes ?? MAX_ANSWER_BYTES);
  } catch (err) {
    if (signal.aborted) return { ok: false, message: `no answer from ${origin(call.url)} within ${call.timeoutMs}ms` };
    return { ok: false, message: `cannot reach ${origin(call.url)}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (status < 200 || status >= 300) return { ok: false, message: `HTTP ${status} from ${origin(call.url)}: ${firstBytes(text)}`, status, body: text };
  try {
    return { ok: true, status, json: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: `HTTP ${status} from ${origin(call.url)} is not JSON: ${firstBytes(text)}` };
  }
}

async function readCapped(body: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > maxBytes) throw new Error(`answer larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** scheme://host:port only: a URL's query may hold what should not be in logs. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the address';
  }
}
