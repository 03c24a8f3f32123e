// The two states a rollout may end in, and nothing in between: rolled back
// (blue 100%, no mirror, green deleted) or promoted (green 100%, no mirror,
// blue deleted), with the endpoint's keys as they were and its clients served
// by the winner. Also a fingerprint of a bystander endpoint, to show that a
// fault elsewhere changed nothing of it.
import { readFileSync } from 'node:fs';
import type { AdminClient } from '../../router/client.js';
import type { EndpointKeys } from '../../router/views.js';
import type { CallInit, CallResult } from './router.js';

export type FinalState = 'promoted' | 'rolled-back';

export interface RolloutSides {
  endpoint: string;
  blue: string;
  green: string;
  /** The keys before the rollout: a rollout never changes them. */
  keys: EndpointKeys;
}

interface RouterUnderTest {
  admin: AdminClient;
  call(endpoint: string, init?: CallInit): Promise<CallResult>;
}

/**
 * Which clean final state the endpoint is in; throws, describing what it
 * found, when it is in neither (a split, a mirror left on, both or neither
 * deployment left, changed keys, or a winner that does not answer).
 */
export async function finalStateOf(router: RouterUnderTest, sides: RolloutSides): Promise<FinalState> {
  const { endpoint, blue, green } = sides;
  const view = await router.admin.getEndpoint(endpoint);
  const deployments = (await router.admin.listDeployments(endpoint)).map((d) => `${d.name}:${d.provisioningState}`).sort();
  const found = `traffic ${JSON.stringify(view.traffic)}, mirror ${JSON.stringify(view.mirrorTraffic)}, deployments [${deployments.join(', ')}]`;
  const state: FinalState | undefined =
    isOnly(view.traffic, blue) && deployments.join() === `${blue}:Succeeded`
      ? 'rolled-back'
      : isOnly(view.traffic, green) && deployments.join() === `${green}:Succeeded`
        ? 'promoted'
        : undefined;
  if (state === undefined || Object.keys(view.mirrorTraffic).length > 0) throw new Error(`${endpoint} is in between: ${found}`);

  const keys = await router.admin.getKeys(endpoint);
  if (keys.primaryKey !== sides.keys.primaryKey || keys.secondaryKey !== sides.keys.secondaryKey) throw new Error(`${endpoint}: the rollout changed its keys`);
  const winner = state === 'promoted' ? green : blue;
  for (const key of [keys.primaryKey, keys.secondaryKey]) {
    const answer = await router.call(endpoint, { key });
    if (answer.status !== 200 || answer.deployment !== winner) {
      throw new Error(
        `${endpoint} (${state}) answered ${answer.status} from "${answer.deployment ?? '?'}", expected 200 from "${winner}": ${answer.body.slice(0, 200)}`,
      );
    }
  }
  return state;
}

function isOnly(traffic: Record<string, number>, name: string): boolean {
  const entries = Object.entries(traffic);
  return entries.length === 1 && entries[0]?.[0] === name && entries[0][1] === 100;
}

/** Everything a client or operator relies on of an endpoint, without timestamps or instance pids. */
export async function fingerprint(admin: AdminClient, endpoint: string): Promise<unknown> {
  const view = await admin.getEndpoint(endpoint);
  const deployments = await admin.listDeployments(endpoint);
  return {
    name: view.name,
    description: view.description,
    tags: view.tags,
    traffic: view.traffic,
    mirrorTraffic: view.mirrorTraffic,
    keys: await admin.getKeys(endpoint),
    deployments: deployments.map((d) => ({ name: d.name, state: d.provisioningState, instanceCount: d.instanceCount, source: d.source })),
  };
}

/** Pids of the endpoint's process instances now, to check later that none outlives its deployment. */
export async function instancePids(admin: AdminClient, endpoint: string): Promise<Map<string, number[]>> {
  const pids = new Map<string, number[]>();
  for (const d of await admin.listDeployments(endpoint)) {
    pids.set(
      d.name,
      d.instances.map((i) => i.pid).filter((pid): pid is number => typeof pid === 'number'),
    );
  }
  return pids;
}

/** Running (a zombie left by a killed parent does not count). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}
