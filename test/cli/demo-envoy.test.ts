// `saferoll demo --exit --data-plane envoy` (what `npm run demo -- --data-plane
// envoy` runs): the whole stack with an Envoy carrying the clients' traffic,
// a good green promoted and a faulty one rolled back, with no failed request.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../../shared/free-port.js';
import { runCli } from '../support/cli.js';

it('runs the demo through an Envoy: promoted, rolled back, 0 failed client requests', async () => {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-demo-envoy-'));
  try {
    const ports = (await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])).map(String);
    const [port, adminPort, temporalPort, uiPort, xdsPort] = ports as [string, string, string, string, string];
    const { code, output } = await runCli(
      [
        'demo',
        '--exit',
        '--data-plane',
        'envoy',
        '--port',
        port,
        '--admin-port',
        adminPort,
        '--temporal-port',
        temporalPort,
        '--ui-port',
        uiPort,
        '--xds-port',
        xdsPort,
        '--state-dir',
        stateDir,
      ],
      { CI: 'true', SAFEROLL_ADMIN_TOKEN: undefined, TEMPORAL_ADDRESS: undefined },
    );
    expect(code, output).toBe(0);
    expect(output).toMatch(/run 1, a good green: promoted in [\d.]+ s; clients sent \d+ requests, 0 failed/);
    expect(output).toMatch(/run 2, a faulty green .*: rolled-back in [\d.]+ s; clients sent \d+ requests, 0 failed/);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}, 240_000);
