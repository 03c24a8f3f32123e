// How long a traffic change takes to reach every Envoy of a fleet of 3: 100
// changes of the live split through the admin API, which answers once every
// Envoy acknowledged the new config (router/envoy/envoy-plane.ts
// untilInSync). Each answer is checked against the replicas' own config
// dumps (every one runs the routing core's current version), and the time
// from sending the change to its answer is the propagation measured.
//
//   node dist/bench/envoy-propagation.js [--changes 100] [--replicas 3]
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { XDS_REFRESH_MS } from '../router/envoy/bootstrap.js';
import type { DataPlaneView } from '../router/envoy/envoy-plane.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import { log } from './lib/log.js';
import { runBench } from './lib/processes.js';
import { machineLine, markdownTable, writeReport } from './lib/report.js';
import { createEndpointWithBlue, startRouterProcess } from './lib/router-process.js';
import { startModelServer } from './lib/upstream-process.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

const ENDPOINT = 'fleet-bench';

async function routesVersion(adminUrl: string): Promise<string> {
  const answer = await request(`${adminUrl}/config_dump?resource=dynamic_route_configs`);
  const dump = (await answer.body.json()) as { configs?: Array<{ version_info?: string }> };
  return dump.configs?.[0]?.version_info ?? '';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { changes: { type: 'string', default: '100' }, replicas: { type: 'string', default: '3' } } });
  const changes = Number(values.changes);
  const replicas = Number(values.replicas);
  const [blue, green] = await Promise.all([startModelServer('blue'), startModelServer('green')]);
  const router = await startRouterProcess({ name: 'envoy-router', args: ['--data-plane', 'envoy', '--envoy-replicas', String(replicas), '--xds-port', '0'] });
  await createEndpointWithBlue(router.admin, ENDPOINT, { upstreams: [blue.url] });
  await router.admin.putDeployment(ENDPOINT, 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitSucceeded(router.admin, ENDPOINT, 'green', { timeoutMs: 30_000 });
  log(`${changes} traffic changes through a fleet of ${replicas} Envoys`);
  const latencies: number[] = [];
  let behind = 0;
  for (let i = 0; i < changes; i++) {
    const greenPercent = (i * 37) % 101;
    const traffic: Record<string, number> =
      greenPercent === 0 ? { blue: 100 } : greenPercent === 100 ? { green: 100 } : { blue: 100 - greenPercent, green: greenPercent };
    const started = performance.now();
    await router.admin.setTraffic(ENDPOINT, traffic);
    latencies.push(performance.now() - started);
    const view = await router.admin.dataPlane<DataPlaneView>();
    const versions = await Promise.all(view.replicas.map((r) => routesVersion(r.adminUrl)));
    if (versions.length !== replicas || versions.some((v) => v !== view.version)) behind++;
  }
  const rows = [[String(replicas), String(changes), ms(median(latencies)), ms(percentile(latencies, 0.99)), ms(Math.max(...latencies)), fmt(behind)]];
  await writeReport(
    'envoy-propagation',
    [
      `## Traffic change to every Envoy (${new Date().toISOString()})`,
      '',
      `${machineLine()}. A change of the live split through the admin API, answered once every Envoy of the fleet acknowledged it ` +
        `(REST-JSON xDS, polled every ${XDS_REFRESH_MS} ms plus up to as much jitter; the acknowledgement arrives with the poll after the one that carried the change). ` +
        'After each answer every replica\'s config dump is read: "replicas behind" counts answers after which one did not run the new version (goal 0).',
      '',
      markdownTable(['replicas', 'changes', 'p50', 'p99', 'max', 'replicas behind'], rows),
    ].join('\n'),
  );
}

runBench('bench:fleet', main);
