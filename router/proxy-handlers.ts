// undici dispatch handlers of the data plane. Writing the upstream answer
// straight into the client's response (pausing on backpressure) costs a
// fraction of a stream pipeline per request: no promise chain, no
// AbortController, no intermediate Readable (undici's proxy example does the
// same).
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { SaferollError } from '../shared/errors.js';
import { sendError } from './http-util.js';
import type { TrafficKind } from './metrics.js';
import type { DeploymentTarget } from './route-table.js';

export const DEPLOYMENT_HEADER = 'x-saferoll-deployment';

/** Recorded when the client went away before its answer was complete (nginx's convention); not a 5xx. */
export const CLIENT_CLOSED = 499;

const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-connection']);

export class ProxyHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 502;
  private finished = false;
  private readonly onClientClose = (): void => {
    if (this.finished) return;
    // The client left: stop the upstream request too, and do not blame the deployment.
    this.status = CLIENT_CLOSED;
    this.finish(); // first: aborting calls onResponseError synchronously, which must not count a 502
    this.controller?.abort(new Error('client closed the connection'));
  };
  private readonly onDrain = (): void => this.controller?.resume();

  constructor(
    private readonly res: ServerResponse,
    private readonly target: DeploymentTarget,
    private readonly kind: TrafficKind,
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly done: () => void,
  ) {
    res.once('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.finished) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200 || this.finished) return; // 1xx informational answers are not forwarded
    this.status = statusCode;
    this.res.writeHead(statusCode, responseHeaders(headers, this.target.name));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.finished) return;
    this.res.end();
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return;
    const res = this.res;
    // The upstream failed mid-answer or before it: either way the deployment failed this request.
    this.status = isTimeout(err) ? 504 : 502;
    if (res.headersSent) {
      res.destroy();
    } else {
      const code = this.status === 504 ? 'SAFEROLL_E_UPSTREAM_TIMEOUT' : 'SAFEROLL_E_UPSTREAM';
      const what = this.status === 504 ? `did not answer within ${this.timeoutMs} ms` : `failed: ${describeError(err)}`;
      sendError(res, new SaferollError(code, `deployment "${this.target.name}" ${what}`), { deployment: this.target.name }, { [DEPLOYMENT_HEADER]: this.target.name });
    }
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.res.off('close', this.onClientClose);
    this.target.metrics[this.kind].record(this.status, (performance.now() - this.started) / 1000);
    this.done();
  }
}

/** Sends a mirror copy and only measures its answer, which is dropped. */
export class MirrorHandler implements Dispatcher.DispatchHandler {
  private status = 502;
  private readonly started = performance.now();

  constructor(
    private readonly target: DeploymentTarget,
    private readonly done: () => void,
  ) {}

  // undici tells new-style handlers from legacy ones by this method.
  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode >= 200) this.status = statusCode;
  }

  onResponseData(): void {
    // The mirror's answer never reaches anyone.
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.status = isTimeout(err) ? 504 : 502;
    this.finish();
  }

  private finish(): void {
    this.target.metrics.mirror.record(this.status, (performance.now() - this.started) / 1000);
    this.done();
  }
}

function responseHeaders(headers: IncomingHttpHeaders, deployment: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  out[DEPLOYMENT_HEADER] = deployment;
  return out;
}

function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}
