// The running side of deployments: each one's provider (its instances) and
// data-plane target, provisioned and deleted in the background, outcomes saved.
import path from 'node:path';
import type { DeploymentSource } from '../shared/contracts.js';
import type { DeploymentRecord } from './model.js';
import { createProvider } from './providers/index.js';
import type { DeploymentProvider } from './providers/provider.js';
import type { RegistryOptions } from './registry-options.js';
import { DeploymentTarget } from './route-table.js';
import type { StateChanges } from './state-changes.js';

export class DeploymentLifecycle {
  private readonly providers = new Map<string, DeploymentProvider>();
  private readonly targetsByKey = new Map<string, DeploymentTarget>();
  private closed = false;

  constructor(
    private readonly changes: StateChanges,
    private readonly options: RegistryOptions,
  ) {}

  /** What the route table is built from, by deployment key. */
  get targets(): ReadonlyMap<string, DeploymentTarget> {
    return this.targetsByKey;
  }

  provider(key: string): DeploymentProvider | undefined {
    return this.providers.get(key);
  }

  makeProvider(key: string, source: DeploymentSource, restore: DeploymentRecord['instances']): DeploymentProvider {
    return createProvider(source, {
      deploymentKey: key,
      logDir: path.join(this.options.stateDir, 'logs'),
      launch: this.options.launch,
      readinessTimeoutMs: this.options.readinessTimeoutMs,
      stopGraceMs: this.options.stopGraceMs,
      restore,
    });
  }

  attach(key: string, endpoint: string, name: string, provider: DeploymentProvider): void {
    this.providers.set(key, provider);
    const metrics = this.options.metrics;
    this.targetsByKey.set(
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
        metrics.forShadow(endpoint, name),
      ),
    );
    provider.onChange(() => this.recordInstances(key, provider));
  }

  /** Scales in the background, then records Succeeded or Failed (with the reason). */
  provision(key: string, provider: DeploymentProvider, count: number): void {
    const settle = (failure: string | undefined): Promise<void> =>
      this.changes
        .apply((next) => {
          const record = next.deployments.get(key);
          // Deleted or replaced meanwhile: this outcome no longer matters.
          if (!record || record.provisioningState === 'Deleting' || this.providers.get(key) !== provider) return;
          record.provisioningState = failure === undefined ? 'Succeeded' : 'Failed';
          record.reason = failure;
          record.instances = provider.records();
          record.updatedAt = new Date().toISOString();
        })
        .then(() => undefined);
    provider
      .scale(count)
      .then(
        // Succeeded once the data plane routes to it (Envoy applies routes a poll later).
        async () => settle((await this.options.untilApplied?.(), undefined)),
        (err: unknown) => settle((err as Error).message),
      )
      .catch((err: unknown) => {
        if (!this.closed) console.error(`saferoll router: could not record provisioning of ${key}: ${(err as Error).message}`);
      });
  }

  /** Stops the instances of a deployment marked Deleting, then removes its record. */
  async finishDeletion(key: string): Promise<void> {
    const provider = this.providers.get(key);
    // A data plane that applies routes later (Envoy) stops sending to it first.
    await this.options.untilApplied?.();
    if (provider) await provider.stop();
    this.providers.delete(key);
    const target = this.targetsByKey.get(key);
    if (target) {
      for (const metrics of Object.values(target.metrics)) metrics.remove();
      target.mirrorShed.remove();
      target.shadow.remove();
    }
    this.targetsByKey.delete(key);
    await this.changes.apply((next) => {
      next.deployments.delete(key);
    });
  }

  /** Every instance URL in use, ready or not. */
  origins(): Set<string> {
    const origins = new Set<string>();
    for (const provider of this.providers.values()) for (const instance of provider.instances()) origins.add(instance.url);
    return origins;
  }

  /** Stops (or, with `detach`, leaves running for re-adoption) every instance. */
  async close(mode: 'stop' | 'detach'): Promise<void> {
    this.closed = true;
    await this.changes.settled();
    const providers = [...this.providers.values()];
    if (mode === 'detach') for (const provider of providers) provider.detach();
    else await Promise.all(providers.map((provider) => provider.stop()));
  }

  // Instance pids and ports change on crash restarts: persist them so a
  // restarted router re-adopts the right processes.
  private recordInstances(key: string, provider: DeploymentProvider): void {
    if (this.closed) return;
    this.options.onOriginsChanged?.(this.origins());
    this.changes
      .apply((next) => {
        const record = next.deployments.get(key);
        if (record && this.providers.get(key) === provider) record.instances = provider.records();
      })
      .catch((err: unknown) => console.error(`saferoll router: could not save instances of ${key}: ${(err as Error).message}`));
  }
}
