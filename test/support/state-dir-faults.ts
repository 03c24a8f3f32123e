// Shared checks of the disk-full and read-only cases: every kind of admin
// change, each of which must be refused with a clear 5xx when the state file
// cannot be written, leaving the router's state, its file and its routing as
// they were.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { fingerprint } from './final-state.js';
import { CHAOS_ADMIN_TOKEN, type RouterProcess } from './router-process.js';

export interface AdminAnswer {
  status: number;
  body: { error?: { code?: string; message?: string } };
}

export async function adminCall(router: RouterProcess, change: AdminChange): Promise<AdminAnswer> {
  const { method, path: urlPath, body } = change;
  const answer = await request(`${router.adminUrl}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${CHAOS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, body: text ? (JSON.parse(text) as AdminAnswer['body']) : {} };
}

export interface AdminChange {
  what: string;
  method: 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

/** One of each kind of change: traffic, new endpoint, new deployment, key, deployment and endpoint deletion. */
export function everyKindOfChange(endpoint: string, spare: string, bystander: string, upstream: string): AdminChange[] {
  return [
    { what: 'set traffic', method: 'PATCH', path: `/v1/endpoints/${endpoint}`, body: { traffic: { blue: 100 }, mirrorTraffic: {} } },
    { what: 'create an endpoint', method: 'PUT', path: '/v1/endpoints/brand-new', body: { authMode: 'key' } },
    { what: 'create a deployment', method: 'PUT', path: `/v1/endpoints/${endpoint}/deployments/extra`, body: { instanceCount: 1, upstreams: [upstream] } },
    { what: 'regenerate a key', method: 'POST', path: `/v1/endpoints/${endpoint}/keys/regenerate`, body: { keyType: 'primary' } },
    { what: 'delete a deployment', method: 'DELETE', path: `/v1/endpoints/${endpoint}/deployments/${spare}` },
    { what: 'delete an endpoint', method: 'DELETE', path: `/v1/endpoints/${bystander}` },
  ];
}

/** What must not move: every endpoint's fingerprint, the state file's bytes and the state dir's file names. */
export async function stateSnapshot(router: RouterProcess): Promise<{ endpoints: unknown; file: string; files: string[] }> {
  const names = (await router.admin.listEndpoints()).map((e) => e.name).sort();
  return {
    endpoints: await Promise.all(names.map((name) => fingerprint(router.admin, name))),
    file: await readFile(path.join(router.stateDir, 'state.json'), 'utf8'),
    files: (await readdir(router.stateDir)).sort(),
  };
}

/** `count` requests with `key`: how many each deployment answered, and any that failed. */
export async function routeSample(
  router: RouterProcess,
  endpoint: string,
  key: string,
  count = 40,
): Promise<{ byDeployment: Record<string, number>; failures: string[] }> {
  const byDeployment: Record<string, number> = {};
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await router.call(endpoint, { key });
    if (answer.status !== 200) failures.push(`${answer.status} ${answer.body.slice(0, 100)}`);
    else if (answer.deployment) byDeployment[answer.deployment] = (byDeployment[answer.deployment] ?? 0) + 1;
  }
  return { byDeployment, failures };
}
