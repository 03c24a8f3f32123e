// What the chaos tests roll out: endpoints with a sample-model blue, greens
// that are good, turn bad on demand (the model server's /_control), or hold
// their own deletion (ignore SIGTERM), and a short policy whose gate judges
// errors only, so a busy 2-core machine cannot decide an outcome by latency.
import { request } from 'undici';
import type { Policy, PolicyStep } from '../../policies/types.js';
import type { AdminClient } from '../../router/client.js';
import { waitSucceeded } from '../../router/deployment-wait.js';
import type { EndpointKeys } from '../../router/views.js';
import type { GreenSpec } from '../../workflows/types.js';
import { modelServer, testPolicy } from './rollout-fixture.js';

export { modelServer };

/** Error rate 5% at most; latency limits far above anything a loaded machine shows. */
export function chaosPolicy(steps: PolicyStep[]): Policy {
  return testPolicy({
    name: 'chaos',
    slo: { latency: { p95Ms: 30_000 }, errorRate: 0.05, minRequests: 10 },
    baseline: {},
    analysis: { intervalMs: 500 },
    steps,
  });
}

/**
 * A server that answers every path with `status` and ignores SIGTERM, so the
 * router's stop of it lasts its whole grace time (SIGKILL comes after): a
 * window in which its deletion is in flight.
 */
export function stubbornServer(name: string, status = 200): GreenSpec {
  const script = [
    "const http = require('node:http');",
    "process.on('SIGTERM', () => undefined);",
    'http.createServer((req, res) => {',
    '  req.resume();',
    "  req.on('end', () => {",
    "    const code = req.url.startsWith('/healthz') ? 200 : Number(process.env.STATUS);",
    "    res.writeHead(code, { 'content-type': 'application/json' });",
    '    res.end(JSON.stringify({ version: process.env.MODEL_VERSION }));',
    '  });',
    "}).listen(Number(process.env.PORT), '127.0.0.1');",
  ].join('\n');
  return {
    name,
    instanceCount: 1,
    source: { process: { command: process.execPath, args: ['-e', script], env: { MODEL_VERSION: name, STATUS: String(status) }, readinessPath: '/healthz' } },
  };
}

/** Creates `endpoint` with `blue` Succeeded at 100% and returns its keys. */
export async function endpointWithBlue(
  admin: AdminClient,
  endpoint: string,
  blue: GreenSpec = modelServer('blue', { LATENCY_MS: '2' }),
): Promise<EndpointKeys> {
  if (!('process' in blue.source)) throw new Error('blue must be a process deployment');
  await admin.putEndpoint(endpoint, { authMode: 'key', description: `chaos ${endpoint}`, tags: { suite: 'chaos' } });
  await admin.putDeployment(endpoint, blue.name, { instanceCount: blue.instanceCount, process: blue.source.process });
  await waitSucceeded(admin, endpoint, blue.name, { timeoutMs: 30_000 });
  await admin.setTraffic(endpoint, { [blue.name]: 100 });
  return admin.getKeys(endpoint);
}

/** Makes every instance of a model-server deployment fail `errorRate` of its answers, from now on. */
export async function degrade(admin: AdminClient, endpoint: string, deployment: string, errorRate: number): Promise<void> {
  const { instances } = await admin.getDeployment(endpoint, deployment);
  if (instances.length === 0) throw new Error(`${endpoint}/${deployment} has no instances`);
  for (const instance of instances) {
    const answer = await request(`${instance.url}/_control`, { method: 'POST', body: JSON.stringify({ errorRate }) });
    await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`${instance.url}/_control answered ${answer.statusCode}`);
  }
}

/** Steps: create, mirror, 10%, 100%, delete blue; each bake `forMs` long unless given. */
export function steps(forMs: { mirror?: number; ten?: number; hundred?: number } = {}): PolicyStep[] {
  return [
    { kind: 'create' },
    { kind: 'mirror', percent: 50, forMs: forMs.mirror ?? 2_000 },
    { kind: 'traffic', percent: 10, forMs: forMs.ten ?? 4_000 },
    { kind: 'traffic', percent: 100, forMs: forMs.hundred ?? 2_000 },
    { kind: 'deleteBlue', afterMs: 0 },
  ];
}
