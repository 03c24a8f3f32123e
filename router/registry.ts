// The routing core's state machine: endpoints, deployments and their
// providers, traffic. Every change is validated on a copy, saved durably,
// then swapped in with a freshly built route table; a rejected change leaves
// everything as it was. Changes run one at a time.
// The operations are here; the change queue is in state-changes.ts, route
// building in route-builder.ts, providers and provisioning in deployment-lifecycle.ts.
import { randomBytes } from 'node:crypto';
import { SaferollError } from '../shared/errors.js';
import { DeploymentLifecycle } from './deployment-lifecycle.js';
import { checkInstanceCount, checkNoTraffic, checkRedeploy, checkScalable } from './deployment-rules.js';
import { applyGuardRequest, checkNotGuardFallback, fireLapsedGuard } from './guard-lease.js';
import { GuardTimers } from './guard-timers.js';
import { checkEnvFiles } from './providers/env-files.js';
import type { DeploymentSource } from '../shared/contracts.js';
import { deploymentKey, type DeploymentRecord, type EndpointRecord, type RouterState } from './model.js';
import type { RegistryOptions } from './registry-options.js';
import { RouteBuilder } from './route-builder.js';
import type { RouteTable } from './route-table.js';
import type { DeploymentPut, EndpointPatch, EndpointPut } from './schemas.js';
import { StateChanges } from './state-changes.js';
import { StateStore } from './state-store.js';
import { checkTrafficRules, withoutZeros } from './traffic-rules.js';
import { deploymentView, endpointView, type DeploymentView, type EndpointKeys, type EndpointView, type ShadowDiffsView } from './views.js';

export class Registry {
  private table: RouteTable = new Map();
  private readonly routeBuilder = new RouteBuilder();
  private readonly changes: StateChanges;
  private readonly lifecycle: DeploymentLifecycle;
  private readonly guards: GuardTimers;

  private constructor(
    state: RouterState,
    store: StateStore,
    private readonly options: RegistryOptions,
  ) {
    this.guards = new GuardTimers(options.metrics, (endpoint, expiresAt) => this.fireGuard(endpoint, expiresAt));
    this.changes = new StateChanges(state, store, () => this.rebuildRoutes());
    this.lifecycle = new DeploymentLifecycle(this.changes, options);
  }

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

  private get state(): RouterState {
    return this.changes.current;
  }

  // ---- endpoints ----------------------------------------------------------

  listEndpoints(): EndpointView[] {
    return [...this.state.endpoints.values()].map(endpointView);
  }

  getEndpoint(name: string): EndpointView {
    return endpointView(this.endpoint(this.state, name));
  }

  putEndpoint(name: string, body: EndpointPut): Promise<{ created: boolean; endpoint: EndpointView }> {
    return this.changes.apply((next) => {
      const now = new Date().toISOString();
      const existing = next.endpoints.get(name);
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
        tags: body.tags ?? new Map(),
        keys: { primary: newKey(), secondary: newKey() },
        traffic: new Map(),
        mirrorTraffic: new Map(),
        createdAt: now,
        updatedAt: now,
      };
      next.endpoints.set(name, record);
      return { created: true, endpoint: endpointView(record) };
    });
  }

  patchEndpoint(name: string, body: EndpointPatch): Promise<EndpointView> {
    return this.changes.apply((next) => {
      const endpoint = this.endpoint(next, name);
      const traffic = body.traffic ?? endpoint.traffic;
      const mirrorTraffic = body.mirrorTraffic ?? endpoint.mirrorTraffic;
      // The guard first: a lapsed lease refuses a controller's route change along with its renewal.
      if (body.guard !== undefined) applyGuardRequest(endpoint, body.guard, (d) => next.deployments.get(deploymentKey(name, d)), Date.now());
      checkTrafficRules(traffic, mirrorTraffic, (d) => next.deployments.get(deploymentKey(name, d)), endpoint);
      endpoint.traffic = withoutZeros(traffic);
      endpoint.mirrorTraffic = withoutZeros(mirrorTraffic);
      if (body.mirrorCompare) refuseCompareOffBuiltin(this.options.dataPlane);
      if (body.mirrorCompare !== undefined) endpoint.mirrorCompare = body.mirrorCompare ?? undefined;
      if (body.description !== undefined) endpoint.description = body.description;
      if (body.tags !== undefined) endpoint.tags = body.tags;
      endpoint.updatedAt = new Date().toISOString();
      return endpointView(endpoint);
    });
  }

  async deleteEndpoint(name: string): Promise<void> {
    const keys = await this.changes.apply((next) => {
      this.endpoint(next, name);
      next.endpoints.delete(name);
      const owned = [...next.deployments.values()].filter((d) => d.endpoint === name);
      for (const deployment of owned) deployment.provisioningState = 'Deleting';
      return owned.map((d) => deploymentKey(d.endpoint, d.name));
    });
    await Promise.all(keys.map((key) => this.lifecycle.finishDeletion(key)));
  }

  /** The endpoint's own series in the Prometheus text format (what a rollout gate reads). */
  endpointMetrics(name: string): string {
    this.endpoint(this.state, name);
    const targets = [...this.lifecycle.targets.values()].filter((t) => t.endpoint === name);
    return this.options.metrics.renderSeries(
      targets.flatMap((t) => Object.values(t.metrics)),
      targets.map((t) => t.shadow),
    );
  }

  getKeys(name: string): EndpointKeys {
    const { keys } = this.endpoint(this.state, name);
    return { primaryKey: keys.primary, secondaryKey: keys.secondary };
  }

  regenerateKey(name: string, keyType: 'primary' | 'secondary'): Promise<EndpointKeys> {
    return this.changes.apply((next) => {
      const endpoint = this.endpoint(next, name);
      endpoint.keys[keyType] = newKey();
      endpoint.updatedAt = new Date().toISOString();
      return { primaryKey: endpoint.keys.primary, secondaryKey: endpoint.keys.secondary };
    });
  }

  // ---- deployments --------------------------------------------------------

  listDeployments(endpoint: string): DeploymentView[] {
    this.endpoint(this.state, endpoint);
    return [...this.state.deployments.values()]
      .filter((d) => d.endpoint === endpoint)
      .map((d) => deploymentView(d, this.lifecycle.provider(deploymentKey(d.endpoint, d.name))));
  }

  getDeployment(endpoint: string, name: string): DeploymentView {
    const record = this.deployment(this.state, endpoint, name);
    return deploymentView(record, this.lifecycle.provider(deploymentKey(endpoint, name)));
  }

  /**
   * Creates a deployment and starts provisioning it in the background
   * (poll GET until `Succeeded` or `Failed`). A PUT of the same spec again is
   * a no-op, so a retried call never creates two.
   */
  async putDeployment(endpoint: string, name: string, body: DeploymentPut): Promise<{ created: boolean; deployment: DeploymentView }> {
    const source: DeploymentSource = 'upstreams' in body ? { upstreams: body.upstreams } : { process: body.process };
    checkInstanceCount(source, body.instanceCount);
    const key = deploymentKey(endpoint, name);
    const existing = this.state.deployments.get(key);
    if (existing) {
      if (checkRedeploy(existing, name, source, body.instanceCount, body.metricsPath)) {
        return { created: false, deployment: await this.scaleDeployment(endpoint, name, body.instanceCount) };
      }
      return { created: false, deployment: this.getDeployment(endpoint, name) };
    }
    if ('process' in source) await checkEnvFiles(source.process.envFiles, 'process.envFiles');
    const provider = this.lifecycle.makeProvider(key, source, []);
    try {
      await this.changes.apply((next) => {
        this.endpoint(next, endpoint);
        if (next.deployments.has(key)) throw new SaferollError('SAFEROLL_E_CONFLICT', `deployment "${name}" is being created by another request`);
        const now = new Date().toISOString();
        const record: DeploymentRecord = {
          endpoint,
          name,
          instanceCount: body.instanceCount,
          source,
          metricsPath: body.metricsPath,
          provisioningState: 'Creating',
          instances: [],
          createdAt: now,
          updatedAt: now,
        };
        next.deployments.set(key, record);
      });
    } catch (err) {
      provider.detach();
      throw err;
    }
    this.lifecycle.attach(key, endpoint, name, provider);
    this.rebuildRoutes();
    this.lifecycle.provision(key, provider, body.instanceCount);
    return { created: true, deployment: this.getDeployment(endpoint, name) };
  }

  async scaleDeployment(endpoint: string, name: string, instanceCount: number): Promise<DeploymentView> {
    const key = deploymentKey(endpoint, name);
    await this.changes.apply((next) => {
      const record = this.deployment(next, endpoint, name);
      checkScalable(record, name);
      checkInstanceCount(record.source, instanceCount);
      record.instanceCount = instanceCount;
      record.provisioningState = 'Updating';
      record.reason = undefined;
      record.updatedAt = new Date().toISOString();
    });
    const provider = this.lifecycle.provider(key);
    if (provider) this.lifecycle.provision(key, provider, instanceCount);
    return this.getDeployment(endpoint, name);
  }

  /** Deletes a deployment that has no live or mirror traffic; resolves when its instances are stopped. */
  async deleteDeployment(endpoint: string, name: string): Promise<void> {
    const key = deploymentKey(endpoint, name);
    await this.changes.apply((next) => {
      const ep = this.endpoint(next, endpoint);
      const record = this.deployment(next, endpoint, name);
      checkNoTraffic(ep, name);
      checkNotGuardFallback(ep, name);
      record.provisioningState = 'Deleting';
    });
    await this.lifecycle.finishDeletion(key);
  }

  async deploymentLogs(endpoint: string, name: string, lines: number): Promise<string[]> {
    this.deployment(this.state, endpoint, name);
    const provider = this.lifecycle.provider(deploymentKey(endpoint, name));
    return provider ? provider.logs(lines) : [];
  }

  /** The deployment's shadow comparison: pairs by result and the last mismatching pairs (in memory: a restart forgets them). */
  shadowDiffs(endpoint: string, name: string): ShadowDiffsView {
    this.deployment(this.state, endpoint, name);
    const target = this.lifecycle.targets.get(deploymentKey(endpoint, name));
    const pairs = { match: 0, mismatch: 0, shed: 0, error: 0 };
    if (!target) return { endpoint, deployment: name, pairs, diffs: [] };
    for (const result of ['match', 'mismatch', 'shed', 'error'] as const) pairs[result] = target.shadow.count(result);
    return { endpoint, deployment: name, pairs, diffs: target.shadowDiffs.list() };
  }

  /** Stops (or, with `detach`, leaves running for re-adoption) every instance. */
  close(mode: 'stop' | 'detach' = 'stop'): Promise<void> {
    this.guards.close();
    return this.lifecycle.close(mode);
  }

  // ---- internals ----------------------------------------------------------

  private async recover(): Promise<void> {
    const deleting: string[] = [];
    for (const [key, record] of this.state.deployments) {
      const provider = this.lifecycle.makeProvider(key, record.source, record.instances);
      this.lifecycle.attach(key, record.endpoint, record.name, provider);
      if (record.provisioningState === 'Deleting') deleting.push(key);
      else this.lifecycle.provision(key, provider, record.instanceCount);
    }
    // Leases that lapsed while the router was down fire before it serves a request.
    await this.guards.fireExpired(this.state.endpoints.values());
    this.rebuildRoutes();
    await Promise.all(deleting.map((key) => this.lifecycle.finishDeletion(key)));
  }

  private rebuildRoutes(): void {
    this.table = this.routeBuilder.build(this.state, this.lifecycle.targets);
    this.guards.sync(this.state.endpoints.values());
    this.options.onOriginsChanged?.(this.lifecycle.origins());
  }

  /** The guard lease of `endpoint` lapsed: fallback 100%, mirror off, through the ordinary change path. */
  private fireGuard(endpoint: string, expiresAt: string): Promise<string | undefined> {
    return this.changes.apply(
      (next) => {
        const record = next.endpoints.get(endpoint);
        return record ? fireLapsedGuard(record, expiresAt, (d) => next.deployments.get(deploymentKey(endpoint, d)), Date.now()) : undefined;
      },
      { evenIfUnsaved: true },
    );
  }

  private endpoint(state: RouterState, name: string): EndpointRecord {
    const endpoint = state.endpoints.get(name);
    if (!endpoint) throw new SaferollError('SAFEROLL_E_NOT_FOUND', `endpoint "${name}" does not exist`);
    return endpoint;
  }

  private deployment(state: RouterState, endpoint: string, name: string): DeploymentRecord {
    this.endpoint(state, endpoint);
    const record = state.deployments.get(deploymentKey(endpoint, name));
    if (!record) throw new SaferollError('SAFEROLL_E_NOT_FOUND', `deployment "${name}" does not exist on endpoint "${endpoint}"`);
    return record;
  }
}

function newKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Turning a comparison on where nothing would pair answers is refused (turning it off, `null`, is always fine). */
function refuseCompareOffBuiltin(dataPlane: RegistryOptions['dataPlane']): void {
  if (dataPlane === undefined || dataPlane === 'builtin') return;
  throw new SaferollError(
    'SAFEROLL_E_VALIDATION',
    `mirrorCompare: shadow comparison needs the builtin data plane (answers are paired inside the router process); this router runs ${dataPlane}`,
    { field: 'mirrorCompare' },
  );
}
