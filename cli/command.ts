// What every `saferoll` subcommand looks like, and the exit codes scripts
// rely on.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SaferollError } from '../shared/errors.js';

export const EXIT = {
  ok: 0,
  rolledBack: 1,
  badInput: 2,
  unreachable: 3,
  alreadyRunning: 4,
  /** The rollout workflow failed, was terminated or timed out: no verdict, and no rollback ran. */
  workflowFailed: 5,
} as const;

export interface Command {
  name: string;
  summary: string;
  /** Full --help text. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command-line input; printed as one line, exit code 2. */
export class UsageError extends SaferollError {
  constructor(message: string) {
    super('SAFEROLL_E_VALIDATION', message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with saferoll's conventions: strict, --help everywhere, clear errors. */
export function parseFlags<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intFlag(value: string | undefined, flag: string, fallback: number, min = 0, max = 65_535): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}
