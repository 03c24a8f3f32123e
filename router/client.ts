// A typed client of the routing core's admin API (undici). The controller's
// activities and the CLI use it; API errors come back as SaferollError with
// the server's code and field, connection problems as SAFEROLL_E_UNREACHABLE.
import { Agent, request, type Dispatcher } from 'undici';
import type { TargetGroup } from './prometheus-targets.js';
import type { MirrorMap, TrafficMap } from '../shared/contracts.js';
import { SaferollError, type ErrorCode } from '../shared/errors.js';
import type { DeploymentPutBody, EndpointPatchBody, EndpointPutBody } from './schemas.js';
import type { DeploymentView, EndpointKeys, EndpointView, ShadowDiffsView } from './views.js';

export interface AdminClientOptions {
  /** e.g. http://127.0.0.1:8081 */
  adminUrl: string;
  token: string;
  timeoutMs?: number;
}

export class AdminClient {
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(private readonly options: AdminClientOptions) {
    this.base = options.adminUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  }

  get adminUrl(): string {
    return this.base;
  }

  listEndpoints(): Promise<EndpointView[]> {
    return this.call<{ endpoints: EndpointView[] }>('GET', '/v1/endpoints').then((r) => r.endpoints);
  }
  getEndpoint(name: string): Promise<EndpointView> {
    return this.call('GET', `/v1/endpoints/${enc(name)}`);
  }
  putEndpoint(name: string, body: EndpointPutBody): Promise<EndpointView> {
    return this.call('PUT', `/v1/endpoints/${enc(name)}`, body);
  }
  patchEndpoint(name: string, body: EndpointPatchBody): Promise<EndpointView> {
    return this.call('PATCH', `/v1/endpoints/${enc(name)}`, body);
  }
  /** Sets the absolute live split and mirror share (a retry is harmless). */
  setTraffic(name: string, traffic: TrafficMap, mirrorTraffic: MirrorMap = {}): Promise<EndpointView> {
    return this.patchEndpoint(name, { traffic, mirrorTraffic });
  }
  deleteEndpoint(name: string): Promise<void> {
    return this.call('DELETE', `/v1/endpoints/${enc(name)}`);
  }
  getKeys(name: string): Promise<EndpointKeys> {
    return this.call('POST', `/v1/endpoints/${enc(name)}/keys`);
  }
  regenerateKey(name: string, keyType: 'primary' | 'secondary'): Promise<EndpointKeys> {
    return this.call('POST', `/v1/endpoints/${enc(name)}/keys/regenerate`, { keyType });
  }
  listDeployments(endpoint: string): Promise<DeploymentView[]> {
    return this.call<{ deployments: DeploymentView[] }>('GET', `/v1/endpoints/${enc(endpoint)}/deployments`).then((r) => r.deployments);
  }
  getDeployment(endpoint: string, name: string): Promise<DeploymentView> {
    return this.call('GET', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}`);
  }
  /** Returns undefined instead of throwing when the deployment does not exist. */
  findDeployment(endpoint: string, name: string): Promise<DeploymentView | undefined> {
    return this.getDeployment(endpoint, name).catch((err: unknown) => {
      if (err instanceof SaferollError && err.code === 'SAFEROLL_E_NOT_FOUND') return undefined;
      throw err;
    });
  }
  putDeployment(endpoint: string, name: string, body: DeploymentPutBody): Promise<DeploymentView> {
    return this.call('PUT', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}`, body);
  }
  scaleDeployment(endpoint: string, name: string, instanceCount: number): Promise<DeploymentView> {
    return this.call('PATCH', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}`, { instanceCount });
  }
  deleteDeployment(endpoint: string, name: string): Promise<void> {
    return this.call('DELETE', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}`);
  }
  deploymentLogs(endpoint: string, name: string, lines = 100): Promise<string[]> {
    return this.call<{ lines: string[] }>('GET', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}/logs?lines=${lines}`).then((r) => r.lines);
  }
  /** The deployment's shadow comparison: pairs by result and its last mismatching pairs. */
  shadowDiffs(endpoint: string, name: string): Promise<ShadowDiffsView> {
    return this.call('GET', `/v1/endpoints/${enc(endpoint)}/deployments/${enc(name)}/shadow-diffs`);
  }
  /** Prometheus HTTP service discovery: the router and every instance of a deployment with a metricsPath. */
  prometheusTargets(): Promise<TargetGroup[]> {
    return this.call('GET', '/v1/prometheus/targets');
  }
  /** One endpoint's series (`/metrics?endpoint=`): what a gate reads from the routing core. */
  async endpointMetricsText(endpoint: string): Promise<string> {
    return this.call<string>('GET', `/metrics?endpoint=${enc(endpoint)}`, undefined, 'text');
  }
  /** Which data plane serves, and for Envoy the nodes of its fleet (router/envoy/envoy-plane.ts DataPlaneView). */
  dataPlane<T = unknown>(): Promise<T> {
    return this.call('GET', '/v1/dataplane');
  }
  /** The router's Prometheus exposition text. */
  async metricsText(): Promise<string> {
    return this.call<string>('GET', '/metrics', undefined, 'text');
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async call<T>(method: Dispatcher.HttpMethod, path: string, body?: unknown, as: 'json' | 'text' = 'json'): Promise<T> {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(`${this.base}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new SaferollError('SAFEROLL_E_UNREACHABLE', `cannot reach the saferoll router admin API at ${this.base}: ${describe(err)}`, { cause: err });
    }
    const text = await answer.body.text();
    if (answer.statusCode >= 400) throw apiError(answer.statusCode, text, `${method} ${path}`);
    if (answer.statusCode === 204) return undefined as T;
    if (as === 'text') return text as T;
    return JSON.parse(text) as T;
  }
}

function apiError(status: number, text: string, what: string): SaferollError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
    if (parsed.error?.message) {
      return new SaferollError((parsed.error.code ?? 'SAFEROLL_E_INTERNAL') as ErrorCode, parsed.error.message, { field: parsed.error.field });
    }
  } catch {
    // not JSON: fall through to a generic error naming the status
  }
  return new SaferollError(status === 401 ? 'SAFEROLL_E_UNAUTHORIZED' : 'SAFEROLL_E_INTERNAL', `${what} answered ${status}: ${text.slice(0, 200)}`);
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? e.message ?? String(err);
}
