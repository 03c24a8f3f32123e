// The routing core's state machine: endpoints, deployments and their
// providers, traffic. Every change is validated on a copy, saved durably,
// then swapped in with a freshly built route table; a rejected change leaves
// everything as it was. Changes run one at a time.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SaferollError } from '../shared/errors.js';
import type { RouterMetrics } from './metrics.js';
import { deploymentKey, type DeploymentRecord, type DeploymentSource, type EndpointRecord, type RouterState } from './model.js';
import { createProvider } from './providers/index.js';
import type { DeploymentProvider } from './providers/provider.js';
import { DeploymentTarget, EndpointRoutes, type RouteTable, type SplitCounters } from './route-table.js';
import type { DeploymentPutBody, EndpointPatchBody, EndpointPutBody } from './schemas.js';
import { digestSecret } from './secret-compare.js';
import { StateStore } from './state-store.js';
import { checkTrafficRules, withoutZeros } from './traffic-rules.js';
import { deploymentView, endpointView, type DeploymentView, type EndpointKeys, type EndpointView } from './views.js';

const RESERVED_ENDPOINT_NAMES = new Set(['healthz', 'metrics']);

export interface RegistryOptions {
  stateDir: string;
  metrics: RouterMetrics;
  readinessTimeoutMs: number;
  stopGraceMs: number;
  /** Told the set of instance origins still in use after every change. */
  onOriginsChanged?: (origins: ReadonlySet<string>) => void;
}

export class Registry {
  private table: RouteTable = new Map();
  private readonly providers = new Map<string, DeploymentProvider>();
  private readonly targets = new Map<string, DeploymentTarget>();
  private readonly splitCounters = new Map<string, SplitCounters>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private state: RouterState,
    private readonly store: StateStore,
    private readonly options: RegistryOptions,
  ) {}

  /** Loads the state file (refusing a corrupt one) and re-adopts or restarts instances. */
  static async open(options: RegistryOptions): Promise<Registry> {
    const store = new StateStore(options.stateDir);
    const state = await store.load();
    const registry = new Registry(state, store, options);
    await registry.recover();
    return registry;
  }

  /** The current route table; the data plane calls this per request. */
  readonly routes = (): RouteTable => this.table;

  // ---- endpoints ----------------------------------------------------------

  listEndpoints(): EndpointView[] {
    return Object.values(this.state.endpoints).map(endpointView);
  }

  getEndpoint(name: string): EndpointView {
    return endpointView(this.endpoint(this.state, name));
  }

  putEndpoint(name: string, body: EndpointPutBody): Promise<{ created: boolean; endpoint: EndpointView }> {
    if (RESERVED_ENDPOINT_NAMES.has(name)) throw validation('name', `"${name}" is reserved; choose another endpoint name`);
    return this.change((next) => {
      const now = new Date().toISOString();
      const existing = next.endpoints[name];
      if (existing) {
        existing.description = body.description ?? existing.description;
        existing.tags = body.tags ?? existing.tags;
        existing.updatedAt = now;
        return { created: false, endpoint: endpointView(existing) };
      }
      const record: EndpointRecord = {
        name,
        authMode: 'key',
        description: body.description,
        tags: body.tags ?? {},
        keys: { primary: newKey(), secondary: newKey() },
        traffic: {},
        mirrorTraffic: {},
        createdAt: now,
        updatedAt: now,
      };
      next.endpoints[name] = record;
      return { created: true, endpoint: endpointView(record) };
    });
  }

  patchEndpoint(name: string, body: EndpointPatchBody): Promise<EndpointView> {
    return this.change((next) => {
      const endpoint = this.endpoint(next, name);
      const traffic = body.traffic ?? endpoint.traffic;
      const mirrorTraffic = body.mirrorTraffic ?? endpoint.mirrorTraffic;
      checkTrafficRules(traffic, mirrorTraffic, (d) => next.deployments[deploymentKey(name, d)], endpoint);
      endpoint.traffic = withoutZeros(traffic);
      endpoint.mirrorTraffic = withoutZeros(mirrorTraffic);
      if (body.description !== undefined) endpoint.description = body.description;
      if (body.tags !== undefined) endpoint.tags = body.tags;
      endpoint.updatedAt = new Date().toISOString();
      return endpointView(endpoint);
    });
  }

  async deleteEndpoint(name: string): Promise<void> {
    const keys = await this.change((next) => {
      this.endpoint(next, name);
      delete next.endpoints[name];
      const owned = Object.values(next.deployments).filter((d) => d.endpoint === name);
      for (const deployment of owned) deployment.provisioningState = 'Deleting';
      return owned.map((d) => deploymentKey(d.endpoint, d.name));
    });
    await Promise.all(keys.map((key) => this.finishDeletion(key)));
  }

  /** The endpoint's own series in the Prometheus text format (what a rollout gate reads). */
  endpointMetrics(name: string): string {
    this.endpoint(this.state, name);
    const series = [...this.targets.values()].filter((t) => t.endpoint === name).flatMap((t) => Object.values(t.metrics));
    return this.options.metrics.renderSeries(series);
  }

  getKeys(name: string): EndpointKeys {
    const { keys } = this.endpoint(this.state, name);
    return { primaryKey: keys.primary, secondaryKey: keys.secondary };
  }

  regenerateKey(name: string, keyType: 'primary' | 'secondary'): Promise<EndpointKeys> {
    return this.change((next) => {
      const endpoint = this.endpoint(next, name);
      endpoint.keys[keyType] = newKey();
      endpoint.updatedAt = new Date().toISOString();
      return { primaryKey: endpoint.keys.primary, secondaryKey: endpoint.keys.secondary };
    });
  }

  // ---- deployments --------------------------------------------------------

  listDeployments(endpoint: string): DeploymentView[] {
    this.endpoint(this.state, endpoint);
    return Object.values(this.state.deployments)
      .filter((d) => d.endpoint === endpoint)
      .map((d) => deploymentView(d, this.providers.get(deploymentKey(d.endpoint, d.name))));
  }

  getDeployment(endpoint: string, name: string): DeploymentView {
    const record = this.deployment(this.state, endpoint, name);
    return deploymentView(record, this.providers.get(deploymentKey(endpoint, name)));
  }

  /**
   * Creates a deployment and starts provisioning it in the background
   * (poll GET until `Succeeded` or `Failed`). A PUT of the same spec again is
   * a no-op, so a retried call never creates two.
   */
  async putDeployment(endpoint: string, name: string, body: DeploymentPutBody): Promise<{ created: boolean; deployment: DeploymentView }> {
    const source: DeploymentSource = 'upstreams' in body ? { upstreams: body.upstreams } : { process: body.process };
    checkInstanceCount(source, body.instanceCount);
    const key = deploymentKey(endpoint, name);
    const existing = this.state.deployments[key];
    if (existing) {
      if (existing.provisioningState === 'Deleting') throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is being deleted; try again when it is gone`);
      if (JSON.stringify(existing.source) !== JSON.stringify(source)) {
        throw new SaferollError(
          'SAFEROLL_E_CONFLICT',
          `deployment "${name}" already exists with a different spec; a new version is a new deployment (or DELETE this one first)`,
        );
      }
      // A changed count scales; the same spec again after a failure provisions again.
      if (existing.instanceCount !== body.instanceCount || existing.provisioningState === 'Failed') {
        return { created: false, deployment: await this.scaleDeployment(endpoint, name, body.instanceCount) };
      }
      return { created: false, deployment: this.getDeployment(endpoint, name) };
    }
    const provider = this.makeProvider(key, source, []);
    try {
      await this.change((next) => {
        this.endpoint(next, endpoint);
        if (next.deployments[key]) throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is being created by another request`);
        const now = new Date().toISOString();
        const record: DeploymentRecord = { endpoint, name, instanceCount: body.instanceCount, source, provisioningState: 'Creating', instances: [], createdAt: now, updatedAt: now };
        next.deployments[key] = record;
      });
    } catch (err) {
      provider.detach();
      throw err;
    }
    this.attach(key, endpoint, name, provider);
    this.rebuildRoutes();
    this.provision(key, provider, body.instanceCount);
    return { created: true, deployment: this.getDeployment(endpoint, name) };
  }

  async scaleDeployment(endpoint: string, name: string, instanceCount: number): Promise<DeploymentView> {
    const key = deploymentKey(endpoint, name);
    await this.change((next) => {
      const record = this.deployment(next, endpoint, name);
      if (record.provisioningState === 'Creating' || record.provisioningState === 'Updating' || record.provisioningState === 'Deleting') {
        throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is ${record.provisioningState}; try again when it is Succeeded or Failed`);
      }
      checkInstanceCount(record.source, instanceCount);
      record.instanceCount = instanceCount;
      record.provisioningState = 'Updating';
      record.reason = undefined;
      record.updatedAt = new Date().toISOString();
    });
    const provider = this.providers.get(key);
    if (provider) this.provision(key, provider, instanceCount);
    return this.getDeployment(endpoint, name);
  }

  /** Deletes a deployment that has no live or mirror traffic; resolves when its instances are stopped. */
  async deleteDeployment(endpoint: string, name: string): Promise<void> {
    const key = deploymentKey(endpoint, name);
    await this.change((next) => {
      const ep = this.endpoint(next, endpoint);
      const record = this.deployment(next, endpoint, name);
      const live = ep.traffic[name] ?? 0;
      const mirror = ep.mirrorTraffic[name] ?? 0;
      if (live > 0 || mirror > 0) {
        throw new SaferollError(
          'SAFEROLL_E_CONFLICT',
          `deployment "${name}" still has ${live > 0 ? `${live}% live` : `${mirror}% mirror`} traffic; move its traffic away first`,
        );
      }
      record.provisioningState = 'Deleting';
    });
    await this.finishDeletion(key);
  }

  async deploymentLogs(endpoint: string, name: string, lines: number): Promise<string[]> {
    this.deployment(this.state, endpoint, name);
    const provider = this.providers.get(deploymentKey(endpoint, name));
    return provider ? provider.logs(lines) : [];
  }

  /** Stops (or, with `detach`, leaves running for re-adoption) every instance. */
  async close(mode: 'stop' | 'detach' = 'stop'): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    const providers = [...this.providers.values()];
    if (mode === 'detach') for (const provider of providers) provider.detach();
    else await Promise.all(providers.map((provider) => provider.stop()));
  }

  // ---- internals ----------------------------------------------------------

  /** Runs `mutate` on a copy of the state, saves it, then swaps it in. */
  private change<T>(mutate: (next: RouterState) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const next = structuredClone(this.state);
      const result = mutate(next);
      await this.store.save(next);
      this.state = next;
      this.rebuildRoutes();
      return result;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private provision(key: string, provider: DeploymentProvider, count: number): void {
    const settle = (failure: string | undefined): Promise<void> =>
      this.change((next) => {
        const record = next.deployments[key];
        // Deleted or replaced meanwhile: this outcome no longer matters.
        if (!record || record.provisioningState === 'Deleting' || this.providers.get(key) !== provider) return;
        record.provisioningState = failure === undefined ? 'Succeeded' : 'Failed';
        record.reason = failure;
        record.instances = provider.records();
        record.updatedAt = new Date().toISOString();
      }).then(() => undefined);
    provider
      .scale(count)
      .then(
        () => settle(undefined),
        (err: unknown) => settle((err as Error).message),
      )
      .catch((err: unknown) => {
        if (!this.closed) console.error(`saferoll router: could not record provisioning of ${key}: ${(err as Error).message}`);
      });
  }

  private async finishDeletion(key: string): Promise<void> {
    const provider = this.providers.get(key);
    if (provider) await provider.stop();
    this.providers.delete(key);
    const target = this.targets.get(key);
    if (target) {
      for (const metrics of Object.values(target.metrics)) metrics.remove();
      this.options.metrics.removeShedCounter(target.endpoint, target.name);
    }
    this.targets.delete(key);
    await this.change((next) => {
      delete next.deployments[key];
    });
  }

  private makeProvider(key: string, source: DeploymentSource, restore: DeploymentRecord['instances']): DeploymentProvider {
    return createProvider(source, {
      deploymentKey: key,
      logDir: path.join(this.options.stateDir, 'logs'),
      readinessTimeoutMs: this.options.readinessTimeoutMs,
      stopGraceMs: this.options.stopGraceMs,
      restore,
    });
  }

  private attach(key: string, endpoint: string, name: string, provider: DeploymentProvider): void {
    this.providers.set(key, provider);
    const metrics = this.options.metrics;
    this.targets.set(
      key,
      new DeploymentTarget(
        endpoint,
        name,
        provider,
        {
          live: metrics.forTraffic(endpoint, name, 'live'),
          mirror: metrics.forTraffic(endpoint, name, 'mirror'),
          direct: metrics.forTraffic(endpoint, name, 'direct'),
        },
        metrics.shedCounter(endpoint, name),
      ),
    );
    provider.onChange(() => this.recordInstances(key, provider));
  }

  // Instance pids and ports change on crash restarts: persist them so a
  // restarted router re-adopts the right processes.
  private recordInstances(key: string, provider: DeploymentProvider): void {
    if (this.closed) return;
    this.options.onOriginsChanged?.(this.origins());
    this.change((next) => {
      const record = next.deployments[key];
      if (record && this.providers.get(key) === provider) record.instances = provider.records();
    }).catch((err: unknown) => console.error(`saferoll router: could not save instances of ${key}: ${(err as Error).message}`));
  }

  private async recover(): Promise<void> {
    const deleting: string[] = [];
    for (const [key, record] of Object.entries(this.state.deployments)) {
      const provider = this.makeProvider(key, record.source, record.instances);
      this.attach(key, record.endpoint, record.name, provider);
      if (record.provisioningState === 'Deleting') deleting.push(key);
      else this.provision(key, provider, record.instanceCount);
    }
    this.rebuildRoutes();
    await Promise.all(deleting.map((key) => this.finishDeletion(key)));
  }

  private rebuildRoutes(): void {
    const table = new Map<string, EndpointRoutes>();
    for (const endpoint of Object.values(this.state.endpoints)) {
      const byName = new Map<string, DeploymentTarget>();
      for (const record of Object.values(this.state.deployments)) {
        if (record.endpoint !== endpoint.name || record.provisioningState === 'Deleting') continue;
        const target = this.targets.get(deploymentKey(record.endpoint, record.name));
        if (target) byName.set(record.name, target);
      }
      const mirrorEntry = Object.entries(endpoint.mirrorTraffic).find(([, percent]) => percent > 0);
      const mirrorTarget = mirrorEntry ? byName.get(mirrorEntry[0]) : undefined;
      let counters = this.splitCounters.get(endpoint.name);
      if (!counters) {
        counters = { live: 0, mirror: 0 };
        this.splitCounters.set(endpoint.name, counters);
      }
      table.set(
        endpoint.name,
        new EndpointRoutes(
          endpoint.name,
          [digestSecret(endpoint.keys.primary), digestSecret(endpoint.keys.secondary)],
          endpoint.traffic,
          mirrorTarget && mirrorEntry ? { target: mirrorTarget, percent: mirrorEntry[1] } : undefined,
          byName,
          counters,
        ),
      );
    }
    for (const name of this.splitCounters.keys()) if (!table.has(name)) this.splitCounters.delete(name);
    this.table = table;
    this.options.onOriginsChanged?.(this.origins());
  }

  private origins(): Set<string> {
    const origins = new Set<string>();
    for (const provider of this.providers.values()) for (const instance of provider.instances()) origins.add(instance.url);
    return origins;
  }

  private endpoint(state: RouterState, name: string): EndpointRecord {
    const endpoint = state.endpoints[name];
    if (!endpoint) throw new SaferollError('SAFEROLL_E_NOT_FOUND', `endpoint "${name}" does not exist`);
    return endpoint;
  }

  private deployment(state: RouterState, endpoint: string, name: string): DeploymentRecord {
    this.endpoint(state, endpoint);
    const record = state.deployments[deploymentKey(endpoint, name)];
    if (!record) throw new SaferollError('SAFEROLL_E_NOT_FOUND', `deployment "${name}" does not exist on endpoint "${endpoint}"`);
    return record;
  }
}

function newKey(): string {
  return randomBytes(32).toString('base64url');
}

function validation(field: string, message: string): SaferollError {
  return new SaferollError('SAFEROLL_E_VALIDATION', `${field}: ${message}`, { field });
}

function checkInstanceCount(source: DeploymentSource, count: number): void {
  if ('upstreams' in source && count > source.upstreams.length) {
    throw validation('instanceCount', `must be at most the number of upstreams (${source.upstreams.length}), got ${count}`);
  }
}
