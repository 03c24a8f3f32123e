// What the registry is opened with, and hands on to the deployments'
// lifecycle (deployment-lifecycle.ts): both read it, neither owns it.
import type { RouterMetrics } from './metrics.js';
import type { LaunchSettings } from './providers/process-run.js';

export interface RegistryOptions {
  stateDir: string;
  metrics: RouterMetrics;
  readinessTimeoutMs: number;
  stopGraceMs: number;
  /** How process instances are started: isolation and owner marker. */
  launch: LaunchSettings;
  /** Told the set of instance origins still in use after every change. */
  onOriginsChanged?: (origins: ReadonlySet<string>) => void;
  /**
   * Resolves once the data plane routes by the current state: a deployment
   * is Succeeded, and a deleted one's instances are stopped, only then.
   */
  untilApplied?: () => Promise<void>;
  /**
   * The data plane that carries traffic. Shadow comparison (mirrorCompare)
   * pairs answers inside the built-in plane's process, so another plane
   * refuses it rather than accept a comparison that would never run.
   */
  dataPlane?: 'builtin' | 'envoy';
}
