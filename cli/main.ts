#!/usr/bin/env node
// The `saferoll` command: dispatches to a subcommand, turns errors into one
// clear line (a stack only with --verbose) and a documented exit code.
import { isSaferollError } from '../shared/errors.js';
import { EXIT, UsageError, type Command } from './command.js';
import { abortCommand, approveCommand, pauseCommand, promoteCommand, resumeCommand, rollbackCommand } from './control-commands.js';
import { deploymentCommand } from './deployment-command.js';
import { demoCommand } from './demo-command.js';
import { devCommand } from './dev-command.js';
import { endpointCommand } from './endpoint-command.js';
import { envoyBootstrapCommand } from './envoy-bootstrap-command.js';
import { invokeCommand } from './invoke-command.js';
import { loadCommand } from './load-command.js';
import { reportCommand } from './report-command.js';
import { routerCommand } from './router-command.js';
import { startCommand } from './start-command.js';
import { statusCommand } from './status-command.js';
import { validateCommand } from './validate-command.js';
import { waitCommand } from './wait-command.js';
import { workerCommand } from './worker-command.js';

const commands: Command[] = [
  validateCommand,
  startCommand,
  waitCommand,
  statusCommand,
  reportCommand,
  abortCommand,
  pauseCommand,
  resumeCommand,
  promoteCommand,
  approveCommand,
  rollbackCommand,
  endpointCommand,
  deploymentCommand,
  invokeCommand,
  loadCommand,
  routerCommand,
  envoyBootstrapCommand,
  workerCommand,
  devCommand,
  demoCommand,
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: saferoll <command> [options]   (saferoll <command> --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options: --verbose (stack traces on errors), -h/--help',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? EXIT.ok : EXIT.badInput;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`saferoll: unknown command "${name}"\n\n${help()}`);
    return EXIT.badInput;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (verbose) console.error(err);
    else console.error(`saferoll ${name}: ${(err as Error).message ?? String(err)}`);
    return exitCodeOf(err);
  }
}

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.badInput;
  if (!isSaferollError(err)) return EXIT.rolledBack;
  switch (err.code) {
    case 'SAFEROLL_E_VALIDATION':
    case 'SAFEROLL_E_POLICY':
    case 'SAFEROLL_E_NOT_FOUND':
    case 'SAFEROLL_E_CONFLICT':
    case 'SAFEROLL_E_UNAUTHORIZED':
    case 'SAFEROLL_E_PAYLOAD_TOO_LARGE':
      return EXIT.badInput;
    case 'SAFEROLL_E_UNREACHABLE':
    case 'SAFEROLL_E_DATA_PLANE':
      return EXIT.unreachable;
    case 'SAFEROLL_E_WORKFLOW_FAILED':
      return EXIT.workflowFailed;
    default:
      return EXIT.rolledBack;
  }
}

process.exitCode = await main(process.argv.slice(2));
