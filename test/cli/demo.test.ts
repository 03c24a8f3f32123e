// `saferoll demo --exit` as a new user runs it: the whole stack on its own
// ports, a good green promoted, a faulty one rolled back, one that predicts
// differently rolled back by the shadow gate, and the summary.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../shared/free-port.js';
import { runCli } from '../support/cli.js';

describe('saferoll demo', () => {
  it('promotes a good green, rolls back a faulty one with no client-visible error, and prints the summary', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-demo-'));
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const [port, adminPort, temporalPort, uiPort] = ports.map(String) as [string, string, string, string];
    const { code, output } = await runCli(
      ['demo', '--exit', '--port', port, '--admin-port', adminPort, '--temporal-port', temporalPort, '--ui-port', uiPort, '--state-dir', stateDir],
      { CI: 'true', SAFEROLL_ADMIN_TOKEN: undefined, TEMPORAL_ADDRESS: undefined },
    );
    expect(code, output).toBe(0);
    expect(output).toMatch(/run 1, a good green: promoted in [\d.]+ s; clients sent \d+ requests, 0 failed/);
    expect(output).toMatch(/run 2, a faulty green .*: rolled-back in [\d.]+ s; clients sent \d+ requests, 0 failed/);
    expect(output).toMatch(/green first received traffic → failing gate: [\d.]+ s; → blue back at 100%: [\d.]+ s/);
    // The third run: rolled back from the mirror step by the shadow comparison, with 0 client failures.
    expect(output).toMatch(/run 3, a green that predicts differently .*: rolled-back in [\d.]+ s; clients sent \d+ requests, 0 failed/);
    expect(output).toMatch(/ {2}shadow mismatch 100\.0% \(\d+\/\d+ pairs\); e\.g\. POST \/score: \$\.score: 0\.167 vs 0\.467 \(tolerance 0\.01\); blue 200 /);
    expect(output).toContain(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=`);
    // Each run's evidence, as saferoll report writes it.
    expect(output).toMatch(/report: .*reports\/run-1\.md, .*reports\/run-1\.svg, .*reports\/run-1\.html/);
    const reports = path.join(stateDir, 'reports');
    expect((await readFile(path.join(reports, 'run-1.md'), 'utf8')).split('\n')[0]).toBe('## ✅ saferoll: PROMOTED `rollout-demo`');
    expect((await readFile(path.join(reports, 'run-2.md'), 'utf8')).split('\n')[0]).toBe('## ❌ saferoll: ROLLED BACK `rollout-demo`');
    expect(await readFile(path.join(reports, 'run-2.svg'), 'utf8')).toContain('class="rollback"');
    expect(await readFile(path.join(reports, 'run-2.html'), 'utf8')).toContain('<svg');
    expect((await readFile(path.join(reports, 'run-3.md'), 'utf8')).split('\n')[0]).toBe('## ❌ saferoll: ROLLED BACK `rollout-demo`');
  }, 240_000);
});
