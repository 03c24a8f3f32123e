// What the CLI tests share: the environment that points the built CLI at the
// test router and the test run's Temporal server, and a runner that keeps
// stdout apart (for --json) while also collecting everything a user sees.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { PROJECT_ROOT, spawnCli } from '../support/cli.js';
import { TEST_ADMIN_TOKEN, type TestRouter } from '../support/router.js';

export function cliEnv(router?: TestRouter, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_UI_URL: inject('temporalUiUrl') || 'http://localhost:8233',
    TEMPORAL_API_KEY: undefined,
    TEMPORAL_TLS: undefined,
    TEMPORAL_TLS_CERT: undefined,
    // Hermetic: no profile of the machine's own temporal.toml.
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_CONFIG_FILE: devNull,
    SAFEROLL_ROUTER_URL: router?.router.adminUrl ?? 'http://127.0.0.1:1',
    SAFEROLL_DATA_URL: router?.router.dataUrl ?? 'http://127.0.0.1:1',
    SAFEROLL_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    CI: 'true',
    ...extra,
  };
}

export interface CliRun {
  code: number | null;
  /** stdout and stderr interleaved, as a terminal shows them. */
  output: string;
  stdout: string;
}

export async function run(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const p = spawnCli(args, env);
  let stdout = '';
  p.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  const { code } = await p.exited;
  return { code, output: p.output(), stdout };
}

/** `--command` text that starts the sample model server, quoted as a user would. */
export function modelServerCommand(): string {
  return `"${process.execPath}" "${path.join(PROJECT_ROOT, 'examples/model-server.mjs')}"`;
}

export async function writeTemp(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-cli-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}
