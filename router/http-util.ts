// Small helpers shared by the admin API and the data plane: JSON answers and
// errors, bounded request bodies, and the hop-by-hop headers a `Connection`
// header names.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SaferollError, type ErrorCode } from '../shared/errors.js';

export const MAX_ADMIN_BODY_BYTES = 1024 * 1024;

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  SAFEROLL_E_VALIDATION: 400,
  SAFEROLL_E_UNAUTHORIZED: 401,
  SAFEROLL_E_NOT_FOUND: 404,
  SAFEROLL_E_CONFLICT: 409,
  SAFEROLL_E_GUARD_FIRED: 409,
  SAFEROLL_E_PAYLOAD_TOO_LARGE: 413,
  SAFEROLL_E_UPSTREAM: 502,
  SAFEROLL_E_NO_TRAFFIC: 503,
  SAFEROLL_E_UPSTREAM_TIMEOUT: 504,
  // Insufficient Storage: the state file could not be written, so the change was not made.
  SAFEROLL_E_STATE_WRITE: 507,
};

export function statusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: SaferollError, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.field !== undefined) error.field = err.field;
  sendJson(res, statusOf(err.code), { error: { ...error, ...extra } }, headers);
}

/** Reads a JSON body of at most `limit` bytes; an empty body is `undefined`. */
export async function readJsonBody(req: IncomingMessage, limit = MAX_ADMIN_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new SaferollError('SAFEROLL_E_VALIDATION', `body: not valid JSON: ${(err as Error).message}`, { field: 'body' });
  }
}

function tooLarge(limit: number): SaferollError {
  return new SaferollError('SAFEROLL_E_PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`);
}

/**
 * Reads a whole (small) body into one buffer and calls `done` once: with the
 * body, or with undefined when the client hung up before sending all of it.
 * Listeners rather than `for await`: the data plane reads every small body
 * this way, and an async iterator costs a promise chain and ~3 KB of garbage
 * per request (more frequent young-generation GC pauses).
 */
export function readWholeBody(req: IncomingMessage, done: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let settled = false;
  const settle = (body: Buffer | undefined): void => {
    if (settled) return;
    settled = true;
    done(body);
  };
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => settle(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
  // A hang-up mid-body: 'error' (when listened to) and 'close' without 'end'.
  req.on('error', () => settle(undefined));
  req.on('close', () => settle(undefined));
}

/**
 * The header names a `Connection` header lists (RFC 9110 §7.6.1): they are
 * hop-by-hop, so a proxy drops them in both directions. Undefined for the
 * usual bare `close` / `keep-alive`, so the common case allocates nothing.
 */
export function connectionNamedHeaders(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const text = typeof value === 'string' ? value : value.join(',');
  const lower = text.toLowerCase();
  if (lower === 'close' || lower === 'keep-alive') return undefined;
  const named = new Set<string>();
  for (const token of lower.split(',')) {
    const name = token.trim();
    if (name !== '') named.add(name);
  }
  return named;
}
