// Waiting for a deployment to finish provisioning through the admin API: the
// one poll loop the rollout's activity, the CLI (--wait), the demo, bench and
// tests share. Provisioning ends Succeeded or Failed; the caller decides what
// Failed means to it.
import { SaferollError } from '../shared/errors.js';
import type { AdminClient } from './client.js';
import type { DeploymentView } from './views.js';

export interface DeploymentWait {
  /** Gives up with SAFEROLL_E_TIMEOUT after this long; without it, waits as long as the caller does (an activity: its own timeouts). */
  timeoutMs?: number | undefined;
  /** Between two reads; default 250 ms. */
  pollMs?: number | undefined;
  /** Sees every view read: to heartbeat, or to report progress. */
  onView?: ((view: DeploymentView) => void) | undefined;
  /** How to wait between reads; an activity passes its cancellable sleep. */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until the deployment is Succeeded or Failed; returns that view. */
export async function waitProvisioned(admin: AdminClient, endpoint: string, deployment: string, wait: DeploymentWait = {}): Promise<DeploymentView> {
  const deadline = wait.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + wait.timeoutMs;
  for (;;) {
    const view = await admin.getDeployment(endpoint, deployment);
    wait.onView?.(view);
    if (view.provisioningState === 'Succeeded' || view.provisioningState === 'Failed') return view;
    if (Date.now() > deadline) {
      throw new SaferollError(
        'SAFEROLL_E_TIMEOUT',
        `deployment ${endpoint}/${deployment} still ${view.provisioningState} after ${(wait.timeoutMs ?? 0) / 1000}s`,
      );
    }
    await (wait.sleep ?? pause)(wait.pollMs ?? 250);
  }
}

/** As waitProvisioned, but a deployment that Failed throws SAFEROLL_E_PROVISIONING with its reason. */
export async function waitSucceeded(admin: AdminClient, endpoint: string, deployment: string, wait: DeploymentWait = {}): Promise<DeploymentView> {
  const view = await waitProvisioned(admin, endpoint, deployment, wait);
  if (view.provisioningState === 'Failed') {
    throw new SaferollError('SAFEROLL_E_PROVISIONING', `deployment "${deployment}" failed to provision: ${view.reason ?? 'no reason given'}`);
  }
  return view;
}
