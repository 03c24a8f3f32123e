// undici dispatch handlers of the data plane. Writing the upstream answer
// straight into the client's response (pausing on backpressure) costs a
// fraction of a stream pipeline per request: no promise chain, no
// AbortController, no intermediate Readable (undici's proxy example does the
// same).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { DEPLOYMENT_HEADER } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import { connectionNamedHeaders, sendError } from './http-util.js';
import type { TrafficKind } from './metrics.js';
import type { DeploymentTarget } from './route-table.js';
import type { ShadowPair } from './shadow/shadow-pair.js';

const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-connection']);

/*
 * What a gate counts (README "What a gate counts"; every data plane measures
 * the same way). Latency is the deployment's own time: from the moment the
 * request has been fully sent to the upstream to the moment its answer's
 * headers arrive (time to first byte). undici gives a new-style handler no
 * "request sent" hook (UnwrapHandler forwards neither onBodySent nor
 * onRequestSent), so:
 * - a request without a body, or with a body read whole beforehand, is fully
 *   sent when undici starts it (onRequestStart): undici calls it just before
 *   writing headers and body in one synchronous write, after any wait for a
 *   free connection;
 * - a streamed body is fully sent when the client's body ends ('end' on the
 *   request), as undici writes each chunk when it arrives: its last write
 *   follows in the same tick.
 * An answer that begins before its request was fully sent (an upstream that
 * does not read the body) took none of the deployment's time after it: 0 s.
 * A failure without an answer (502, 504) is timed the same way, to the error.
 */

/** Proxies one client request; books exactly one answer or one client abort. */
export class ProxyHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set when this request was mirrored with a comparison: blue's answer is copied into it as it streams to the client. */
  pair: ShadowPair | undefined = undefined;
  private status = 502;
  private finished = false;
  /** Events still to come before the request is fully sent (see above). */
  private unsent: number;
  private sentAt = 0;
  /** Time to first byte once the answer's headers arrived (or to the failure); -1 before: no answer yet. */
  private seconds = -1;
  private readonly onClientClose = (): void => {
    if (this.finished) return;
    this.endPair(0); // the answer was not passed on whole: nothing to compare
    // The client left: stop the upstream request too. After the answer's
    // headers the deployment did answer, so that answer is booked; before,
    // there is no answer to judge.
    if (this.seconds < 0) this.abandon();
    else this.finish(); // first: aborting calls onResponseError synchronously, which must not count a 502
    this.controller?.abort(new Error('client closed the connection'));
  };
  private readonly onDrain = (): void => this.controller?.resume();
  /** The client's streamed body has been read to its end, so undici has written it all. */
  readonly onBodyEnd = (): void => this.sent();

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly target: DeploymentTarget,
    private readonly kind: TrafficKind,
    private readonly timeoutMs: number,
    private readonly done: () => void,
    streamedBody: boolean,
  ) {
    this.unsent = streamedBody ? 2 : 1;
    res.once('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.finished) controller.abort(new Error('client closed the connection'));
    else this.sent();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200 || this.finished) return; // 1xx informational answers are not forwarded
    this.status = statusCode;
    this.seconds = this.elapsed();
    this.res.writeHead(statusCode, responseHeaders(headers, this.target.name));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    this.pair?.blue.add(chunk);
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.finished) return;
    this.res.end();
    this.finish();
    // Compared (when green's answer is in too) only after the client's answer is handed on.
    this.endPair(this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return;
    const res = this.res;
    // The client's own upload broke off (it hung up mid-body): undici reports
    // that as an error of the request, but no deployment failed. undici
    // destroys the body only after telling us, so a destroyed, incomplete
    // request here was the client's doing.
    if (this.seconds < 0 && this.req.destroyed && !this.req.complete) {
      this.abandon();
      return;
    }
    // The upstream failed mid-answer or before it: either way the deployment failed this request.
    this.status = isTimeout(err) ? 504 : 502;
    if (this.seconds < 0) this.seconds = this.elapsed();
    if (res.headersSent) {
      res.destroy();
    } else {
      const code = this.status === 504 ? 'SAFEROLL_E_UPSTREAM_TIMEOUT' : 'SAFEROLL_E_UPSTREAM';
      const what = this.status === 504 ? `did not answer within ${this.timeoutMs} ms` : `failed: ${describeError(err)}`;
      sendError(
        res,
        new SaferollError(code, `deployment "${this.target.name}" ${what}`),
        { deployment: this.target.name },
        { [DEPLOYMENT_HEADER]: this.target.name },
      );
    }
    this.finish();
    this.endPair(this.status);
  }

  /** The client's body could not be read whole (it hung up mid-upload) before anything was sent upstream. */
  onClientBodyError(): void {
    if (this.finished) return;
    this.abandon();
    this.res.destroy();
  }

  private endPair(status: number): void {
    const pair = this.pair;
    if (pair === undefined) return;
    this.pair = undefined;
    pair.blueEnd(status);
  }

  private sent(): void {
    if (--this.unsent === 0) this.sentAt = performance.now();
  }

  private elapsed(): number {
    return this.unsent > 0 ? 0 : (performance.now() - this.sentAt) / 1000;
  }

  /**
   * Books a client abort, never an answer, and only once the deployment had
   * the whole request: a client that leaves mid-upload (or while its request
   * waits for a connection) left because of its own link, and counting it
   * would fail a healthy deployment that slow uploaders abandon.
   */
  private abandon(): void {
    this.endPair(0);
    this.close();
    if (this.unsent === 0) this.target.metrics[this.kind].recordClientAbort();
  }

  private finish(): void {
    this.close();
    this.target.metrics[this.kind].record(this.status, this.seconds < 0 ? 0 : this.seconds);
  }

  private close(): void {
    this.finished = true;
    this.res.off('close', this.onClientClose);
    this.done();
  }
}

/**
 * Sends a mirror copy and measures its answer, which is dropped, or, with a
 * pair, copied for comparison with blue's. Timed as ProxyHandler times a whole body.
 */
export class MirrorHandler implements Dispatcher.DispatchHandler {
  private status = 502;
  private sentAt = -1;
  private seconds = -1;

  constructor(
    private readonly target: DeploymentTarget,
    private readonly done: () => void,
    private readonly pair: ShadowPair | undefined,
  ) {}

  onRequestStart(): void {
    // A mirror copy always has its whole body (or none), written in one go.
    this.sentAt = performance.now();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    this.seconds = this.elapsed();
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // The mirror's answer never reaches a client.
    this.pair?.green.add(chunk);
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.status = isTimeout(err) ? 504 : 502;
    if (this.seconds < 0) this.seconds = this.elapsed();
    this.finish();
  }

  private elapsed(): number {
    return this.sentAt < 0 ? 0 : (performance.now() - this.sentAt) / 1000;
  }

  private finish(): void {
    this.target.metrics.mirror.record(this.status, Math.max(this.seconds, 0));
    this.done();
    this.pair?.greenEnd(this.status);
  }
}

function responseHeaders(headers: IncomingHttpHeaders, deployment: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // Headers the upstream named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const named = connectionNamedHeaders(headers.connection);
  for (const name in headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name) || named?.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  out[DEPLOYMENT_HEADER] = deployment;
  return out;
}

function isTimeout(err: unknown): boolean {
  return (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}
