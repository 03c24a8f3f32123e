// Starts a real routing core in-process on loopback ports chosen by the OS,
// with a fresh state dir, plus a typed admin client and a data-plane caller.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { AdminClient } from '../../router/client.js';
import { startRouter, type RouterOptions, type RunningRouter } from '../../router/server.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token';

export interface TestRouter {
  router: RunningRouter;
  admin: AdminClient;
  stateDir: string;
  call(endpoint: string, init?: CallInit): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallInit {
  key?: string | undefined;
  path?: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  deployment: string | undefined;
  body: string;
}

export async function startTestRouter(options: Partial<RouterOptions> = {}): Promise<TestRouter> {
  const stateDir = options.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'saferoll-router-')));
  const router = await startRouter({
    port: 0,
    adminPort: 0,
    stateDir,
    adminToken: TEST_ADMIN_TOKEN,
    readinessTimeoutMs: 15_000,
    stopGraceMs: 2_000,
    ...options,
  });
  const admin = new AdminClient({ adminUrl: router.adminUrl, token: TEST_ADMIN_TOKEN });
  const agent = new Agent({ connections: 64 });
  return {
    router,
    admin,
    stateDir,
    call: (endpoint, init) => callDataPlane(router.dataUrl, agent, endpoint, init),
    async close() {
      await admin.close();
      await agent.close();
      await router.close();
      if (!options.stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export async function callDataPlane(dataUrl: string, agent: Agent, endpoint: string, init: CallInit = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  const answer = await request(`${dataUrl}/${endpoint}${init.path ?? '/score'}`, {
    method: init.method ?? 'POST',
    headers,
    body: init.body ?? (init.method === 'GET' ? undefined : '{"x":1}'),
    dispatcher: agent,
  });
  const deployment = answer.headers['x-saferoll-deployment'];
  return { status: answer.statusCode, deployment: typeof deployment === 'string' ? deployment : undefined, body: await answer.body.text() };
}
