// `saferoll demo`: the project's main job on its embedded default. Starts the
// local stack, puts a blue model server behind an endpoint under steady
// traffic, and runs policies/quick.yaml twice: a good green is promoted, a
// faulty one (slower and failing) is rolled back on its own; then
// policies/shadow-compare.yaml: a green as fast and error-free as blue whose
// predictions differ is rolled back from the mirror step by the shadow gate.
import path from 'node:path';
import { loadPolicyFile } from '../policies/loader.js';
import type { AdminClient } from '../router/client.js';
import { waitSucceeded } from '../router/deployment-wait.js';
import { projectRoot } from '../shared/project-root.js';
import { rolloutWorkflowId } from '../workflows/messages.js';
import type { Policy } from '../policies/types.js';
import type { GreenSpec, RolloutResult } from '../workflows/types.js';
import { EXIT, parseFlags, type Command } from './command.js';
import { DemoLoad } from './demo-load.js';
import { STACK_FLAGS, STACK_HELP, stackOptions, startDevStack } from './dev-stack.js';
import { followRollout, isLiveTerminal } from './follow-rollout.js';
import { collectEvidence } from './report/collect-evidence.js';
import { writeReport } from './report/write-report.js';
import { resultLines } from './rollout-view.js';
import { Session } from './session.js';
import { startRollout } from './start-rollout.js';
import { DEFAULT_RECONNECT_TIMEOUT_MS } from './temporal-link.js';

const ENDPOINT = 'demo';
const REQUESTS_PER_SECOND = 50;
// Envoy draws the 10% shares at random instead of dealing them: twice the
// traffic keeps a 5 s step's sample well above the policy's floor of 20.
const ENVOY_REQUESTS_PER_SECOND = 100;

const usage = `Usage: saferoll demo [--port 8080] [--admin-port 8081] [--temporal-port 7233] [--ui-port 8233] [--state-dir .saferoll] [--exit]

Starts the local stack (as saferoll dev), creates endpoint "${ENDPOINT}" with a blue
sample model server under steady traffic (${REQUESTS_PER_SECOND} requests/s), and runs
policies/quick.yaml twice: a good green is promoted to 100% and blue deleted;
then a faulty green (slower and failing) is rolled back automatically. A
third run (policies/shadow-compare.yaml) mirrors to a green as fast and
error-free as blue whose predictions differ: the shadow comparison of its
answers with blue's rolls it back before any client sees it.
Writes each run's report (as saferoll report: md with its SVG chart, and
html) under <state-dir>/reports, prints a summary, then keeps the stack up
for a look at both runs in the Temporal UI until Ctrl-C (or stops at once
with --exit).

Options:
${STACK_HELP}
  --exit                stop the stack when the demo is done (exit 0 when every run ended as expected)
  -h, --help            this help`;

interface RunSummary {
  label: string;
  result: RolloutResult;
  phases: Map<string, { sent: number; failed: number }>;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the demo: a good green promoted, a faulty one and one that predicts differently rolled back',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, { ...STACK_FLAGS, exit: { type: 'boolean' } });
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    const root = projectRoot();
    const policy = await loadPolicyFile(path.join(root, 'policies/quick.yaml'));
    const shadowPolicy = await loadPolicyFile(path.join(root, 'policies/shadow-compare.yaml'));
    const quiet: string[] = [];
    const options = stackOptions(values, (line) => {
      // Keep the stack's own chatter out of the way; show it if something breaks.
      quiet.push(line);
      if (quiet.length > 200) quiet.shift();
      if (/error|exited/i.test(line) && !line.startsWith('[temporal]')) console.error(line);
    });
    const reportsDir = path.join(path.resolve(options.stateDir), 'reports');
    const stack = await startDevStack(options);
    const session = new Session({
      temporal: stack.temporal,
      routerAdminUrl: stack.adminUrl,
      routerDataUrl: stack.dataUrl,
      adminToken: stack.adminToken,
      uiUrl: stack.uiUrl ?? 'http://localhost:8233',
    });
    let load: DemoLoad | undefined;
    try {
      console.log(`stack up: data plane ${stack.dataUrl}, admin ${stack.adminUrl}, Temporal UI ${stack.uiUrl ?? stack.temporalAddress}`);
      const admin = session.admin();
      const model = path.join(root, 'examples/model-server.mjs');
      const modelServer = (name: string, env: Record<string, string>): GreenSpec => ({
        name,
        instanceCount: 2,
        source: { process: { command: process.execPath, args: [model], env: { MODEL_VERSION: name, ...env }, readinessPath: '/healthz' } },
      });

      const blue = modelServer('blue-v1', { LATENCY_MS: '20' });
      await resetEndpoint(admin, blue);
      const { primaryKey } = await admin.getKeys(ENDPOINT);
      const rate = options.dataPlane ? ENVOY_REQUESTS_PER_SECOND : REQUESTS_PER_SECOND;
      load = new DemoLoad(`${stack.dataUrl}/${ENDPOINT}/score`, primaryKey, rate);
      console.log(`endpoint "${ENDPOINT}": blue "${blue.name}" (2 instances) at 100%, ${rate} requests/s of steady traffic\n`);

      const client = await session.temporal();
      const runs: RunSummary[] = [];
      const rollout = async (label: string, green: GreenSpec, blueName: string, runPolicy: Policy = policy): Promise<RolloutResult> => {
        console.log(`=== ${label}: green "${green.name}" replaces "${blueName}" with policy ${runPolicy.name}`);
        const workflowId = rolloutWorkflowId(ENDPOINT);
        const handle = await startRollout(
          client,
          { endpoint: ENDPOINT, policy: runPolicy, green, blue: blueName, policySource: `${runPolicy.name}.yaml` },
          { summary: `demo: ${label}` },
        );
        console.log(`  ${session.workflowUrl(workflowId)}`);
        const phases = new Map<string, { sent: number; failed: number }>();
        load?.byPhase.clear();
        const result = await followRollout(handle, {
          out: process.stdout,
          live: isLiveTerminal(process.stdout),
          query: async () => {
            const status = await session.queryStatus(handle);
            if (load) load.phase = status.phase;
            return status;
          },
          // The stack restarts a Temporal that dies; the demo waits for it like start --wait.
          reconnect: {
            address: stack.temporalAddress,
            endpoint: ENDPOINT,
            reconnectTimeoutMs: DEFAULT_RECONNECT_TIMEOUT_MS,
            probe: () => session.probeTemporal(),
          },
        });
        if (load) for (const [phase, count] of load.byPhase) phases.set(phase, { ...count });
        for (const line of resultLines(result, workflowId)) console.log(line);
        // The evidence a CI job would post on the pull request (saferoll report).
        const evidence = await collectEvidence(session, ENDPOINT, handle.firstExecutionRunId);
        const base = path.join(reportsDir, `run-${runs.length + 1}`);
        const written = [...(await writeReport(evidence, 'md', `${base}.md`)), ...(await writeReport(evidence, 'html', `${base}.html`))];
        console.log(`  report: ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
        console.log('');
        runs.push({ label, result, phases });
        return result;
      };

      const first = await rollout('run 1, a good green', modelServer('green-v2', { LATENCY_MS: '20' }), blue.name);
      const current = first.outcome === 'promoted' ? 'green-v2' : blue.name;
      await rollout('run 2, a faulty green (+300 ms, 30% errors)', modelServer('green-v3', { LATENCY_MS: '320', ERROR_RATE: '0.3' }), current);
      await rollout(
        'run 3, a green that predicts differently (as fast, no errors, scores +0.3)',
        modelServer('green-v4', { LATENCY_MS: '20', PREDICTION_SHIFT: '0.3' }),
        current,
        shadowPolicy,
      );
      await load.stop();
      load = undefined;
      printSummary(runs);
      console.log(
        `\nBoth runs in the Temporal UI: ${stack.uiUrl ?? '(your server UI)'}/namespaces/${stack.namespace}/workflows?query=${encodeURIComponent(`RolloutEndpoint="${ENDPOINT}"`)}`,
      );
      if (values.exit)
        return runs.every((r, i) => (i === 0 ? r.result.outcome === 'promoted' : r.result.outcome === 'rolled-back')) ? EXIT.ok : EXIT.rolledBack;
      console.log('The stack stays up for a look around; Ctrl-C stops it.');
      await Promise.race([new Promise((resolve) => process.once('SIGINT', resolve)), new Promise((resolve) => process.once('SIGTERM', resolve))]);
      return EXIT.ok;
    } catch (err) {
      for (const line of quiet.slice(-30)) console.error(line);
      throw err;
    } finally {
      await load?.stop();
      await session.close();
      await stack.stop();
    }
  },
};

/** A fresh endpoint with only blue at 100% (an earlier demo's leftovers removed). */
async function resetEndpoint(admin: AdminClient, blue: GreenSpec): Promise<void> {
  const existing = await admin.listEndpoints();
  if (existing.some((e) => e.name === ENDPOINT)) await admin.deleteEndpoint(ENDPOINT);
  await admin.putEndpoint(ENDPOINT, { authMode: 'key', description: 'saferoll demo endpoint' });
  if (!('process' in blue.source)) throw new Error('the demo blue is a process deployment');
  await admin.putDeployment(ENDPOINT, blue.name, { instanceCount: blue.instanceCount, process: blue.source.process });
  await waitSucceeded(admin, ENDPOINT, blue.name, { pollMs: 200 });
  await admin.setTraffic(ENDPOINT, { [blue.name]: 100 });
}

function printSummary(runs: RunSummary[]): void {
  console.log('=== summary');
  for (const run of runs) {
    const { result } = run;
    const sent = [...run.phases.values()].reduce((a, c) => a + c.sent, 0);
    const failed = [...run.phases.values()].reduce((a, c) => a + c.failed, 0);
    console.log(`${run.label}: ${result.outcome} in ${(result.durationMs / 1000).toFixed(1)} s; clients sent ${sent} requests, ${failed} failed`);
    for (const [phase, count] of run.phases)
      console.log(`  ${phase.padEnd(12)} ${String(count.sent).padStart(6)} requests  ${String(count.failed).padStart(4)} client-visible errors`);
    const breach = breachToRollback(result);
    if (breach) console.log(`  green first received traffic → failing gate: ${breach.toGateS} s; → blue back at 100%: ${breach.toRollbackS} s`);
    const shadow = shadowEvidence(result);
    if (shadow) console.log(`  shadow mismatch ${shadow.share} (${shadow.pairs}); e.g. ${shadow.example}`);
  }
}

/** The shadow gate's mismatch share and the example pair its rollback reason quotes, when it decided. */
function shadowEvidence(result: RolloutResult): { share: string; pairs: string; example: string } | undefined {
  const check = result.lastGate?.checks.find((c) => c.metric === 'shadowMismatch' && c.phase === 'Failed');
  const example = /; e\.g\. (.*)$/.exec(result.reason)?.[1];
  if (!check || check.value === null || example === undefined) return undefined;
  return { share: `${(check.value * 100).toFixed(1)}%`, pairs: check.note?.split(';')[0] ?? '', example };
}

/** Times from green's first traffic (the breach, for a faulty green) to the failing gate and to the rollback. */
function breachToRollback(result: RolloutResult): { toGateS: string; toRollbackS: string } | undefined {
  if (result.outcome !== 'rolled-back') return undefined;
  const firstTraffic = result.decisions.find((d) => /step \d+\/\d+: (mirror|traffic)/.test(d.message));
  const gate = result.decisions.find((d) => d.kind === 'gate' && /Failed/.test(d.message)) ?? result.decisions.find((d) => d.kind === 'rollback');
  const done = [...result.decisions].reverse().find((d) => d.kind === 'done');
  if (!firstTraffic || !gate || !done) return undefined;
  return { toGateS: ((gate.atMs - firstTraffic.atMs) / 1000).toFixed(1), toRollbackS: ((done.atMs - firstTraffic.atMs) / 1000).toFixed(1) };
}
