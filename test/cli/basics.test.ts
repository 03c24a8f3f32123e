// The parts of `saferoll` that need no rollout: --help everywhere, policy
// validation with file:line:col, and the exit code for an unreachable server.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { PROJECT_ROOT } from '../support/cli.js';
import { cliEnv, run, writeTemp } from './helpers.js';

const COMMANDS = [
  'validate',
  'start',
  'wait',
  'status',
  'report',
  'abort',
  'pause',
  'resume',
  'promote',
  'approve',
  'endpoint',
  'deployment',
  'invoke',
  'load',
  'router',
  'worker',
  'dev',
  'demo',
];
const SUBCOMMANDS = [
  ...['create', 'show', 'list', 'delete', 'traffic', 'mirror', 'keys', 'regenerate-key'].map((s): [string, string] => ['endpoint', s]),
  ...['create', 'show', 'list', 'scale', 'delete', 'logs'].map((s): [string, string] => ['deployment', s]),
];

describe('saferoll --help', () => {
  it('lists every command', async () => {
    const { code, output } = await run(['--help'], cliEnv());
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(output).toContain(`  ${command} `);
  });

  it.concurrent.for(COMMANDS)('%s --help prints its usage and exits 0', async (command, { expect }) => {
    const { code, output } = await run([command, '--help'], cliEnv());
    expect(code, output).toBe(0);
    expect(output).toMatch(new RegExp(`^Usage: saferoll ${command}`));
  });

  it.concurrent.for(SUBCOMMANDS)('%s %s --help prints its usage and exits 0', async ([group, sub], { expect }) => {
    const { code, output } = await run([group, sub, '--help'], cliEnv());
    expect(code, output).toBe(0);
    expect(output).toMatch(new RegExp(`^Usage: saferoll ${group} ${sub}`));
  });

  it('refuses an unknown flag with one line and exit 2', async () => {
    const { code, output } = await run(['status', '--bogus'], cliEnv());
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/^saferoll status: .*--bogus/);
  });
});

describe('saferoll validate', () => {
  it('prints the plan of a good policy and exits 0', async () => {
    const { code, output } = await run(['validate', path.join(PROJECT_ROOT, 'policies/quick.yaml')], cliEnv());
    expect(code, output).toBe(0);
    expect(output.trim()).toMatch(/^quick: create → smoke ×3 → mirror 10% 5s → .*deleteBlue; gates /);
  });

  it('prints every problem at file:line:col and exits 2', async () => {
    const file = await writeTemp(
      'bad.yaml',
      ['name: bad', 'slo:', '  latency: { p95: 10 }', 'steps:', '  - create: {}', '  - traffic: { percent: 200, for: 1s }', '  - bogus: {}', ''].join('\n'),
    );
    const { code, output } = await run(['validate', file], cliEnv());
    expect(code).toBe(2);
    expect(output).toContain(`${file}:3:19: slo.latency.p95: `);
    expect(output).toContain(`${file}:6:25: steps.1.traffic.percent: must be from 1 to 100%`);
    expect(output).toContain(`${file}:7:5: steps.2.bogus: unknown step "bogus"`);
    expect(output).toContain('3 problems');
  });

  it('reports the problems as JSON with --json', async () => {
    const file = await writeTemp('bad.yaml', 'name: bad\nslo: {}\nsteps: []\n');
    const { code, stdout } = await run(['validate', file, '--json'], cliEnv());
    expect(code).toBe(2);
    const parsed = JSON.parse(stdout) as { ok: boolean; problems: { line: number; col: number; path: string }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.problems.length).toBeGreaterThan(0);
    expect(parsed.problems[0]).toMatchObject({ file, line: expect.any(Number), col: expect.any(Number) });
  });

  it('says so when the file cannot be read, exit 2', async () => {
    const { code, output } = await run(['validate', '/nonexistent/policy.yaml'], cliEnv());
    expect(code).toBe(2);
    expect(output).toContain('/nonexistent/policy.yaml:1:1: cannot read the policy');
  });
});

describe('unreachable servers', () => {
  it('exits 3 naming the Temporal address when Temporal does not answer', async () => {
    const { code, output } = await run(['status'], cliEnv(undefined, { TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    expect(code, output).toBe(3);
    expect(output.trim()).toMatch(/^saferoll status: cannot reach Temporal at 127\.0\.0\.1:1/);
  });

  it('start with good input exits 3 when Temporal does not answer', async () => {
    const { code, output } = await run(
      [
        'start',
        '--policy',
        path.join(PROJECT_ROOT, 'policies/quick.yaml'),
        '--endpoint',
        'cli-nowhere',
        '--green',
        'green',
        '--upstream',
        'http://127.0.0.1:9',
      ],
      cliEnv(undefined, { TEMPORAL_ADDRESS: '127.0.0.1:1' }),
    );
    expect(code, output).toBe(3);
    expect(output).toContain('cannot reach Temporal at 127.0.0.1:1');
  });

  it('exits 3 naming the admin URL when the router does not answer', async () => {
    const { code, output } = await run(['endpoint', 'list'], cliEnv(undefined, { SAFEROLL_ROUTER_URL: 'http://127.0.0.1:1' }));
    expect(code, output).toBe(3);
    expect(output).toContain('http://127.0.0.1:1');
  });
});
