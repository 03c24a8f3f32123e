// Runs the built `saferoll` command (dist/cli/main.js) as a real child
// process, collecting its output, for tests of what a user sees.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(PROJECT_ROOT, 'dist/cli/main.js');

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

/** Stops a CLI process still running (SIGTERM, as an operator would) and waits for it to exit. */
export async function stopCli(p: { child: ChildProcess; exited: Promise<unknown> } | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exited;
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
  const p = spawnCli(args, env);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

/** Starts `saferoll router` on free ports and waits for its URLs. */
export async function spawnRouter(stateDir: string, env: Record<string, string | undefined> = {}) {
  const p = spawnCli(['router', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], env);
  const line = await waitFor(
    () => /data plane (\S+)\s+admin API (\S+)/.exec(p.output()) ?? (p.child.exitCode !== null ? Promise.reject(new Error(p.output())) : null),
    20_000,
    'router started',
  );
  return { ...p, dataUrl: line[1] as string, adminUrl: line[2] as string };
}
