// A command made of subcommands over the routing core's admin API
// (`saferoll endpoint traffic ...`): each with its own synopsis and --help,
// the router flags, --json, and the session that closes its clients.
import type { ParseArgsConfig } from 'node:util';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { ROUTER_ENV_HELP, ROUTER_FLAGS, ROUTER_HELP, resolveRouterConfig, withSession, type Session } from './session.js';

type Options = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface SubcommandContext {
  values: FlagValues;
  positionals: string[];
  session: Session;
  json: boolean;
}

export interface Subcommand {
  name: string;
  /** After `saferoll <group> `, e.g. `traffic <endpoint> [name=percent...]`. */
  synopsis: string;
  summary: string;
  /** More about what it does, for --help. */
  details?: string;
  flags?: Options;
  flagsHelp?: string;
  /** Positional arguments allowed: [min, max]. */
  args: [number, number];
  run(context: SubcommandContext): Promise<number>;
}

export function commandGroup(name: string, summary: string, intro: string, subcommands: Subcommand[]): Command {
  const width = Math.max(...subcommands.map((s) => s.synopsis.length));
  const usage = [
    `Usage: saferoll ${name} <subcommand> [options]   (saferoll ${name} <subcommand> --help for details)`,
    '',
    intro,
    '',
    'Subcommands:',
    ...subcommands.map((s) => `  ${s.synopsis.padEnd(width)}  ${s.summary}`),
    '',
    'Options of every subcommand:',
    '  --json                  print JSON on stdout',
    ROUTER_HELP,
    '',
    ROUTER_ENV_HELP,
  ].join('\n');

  return {
    name,
    summary,
    usage,
    async run(argv) {
      const [subName, ...rest] = argv;
      if (subName === undefined || subName === '--help' || subName === '-h' || subName === 'help') {
        console.log(usage);
        return subName === undefined ? EXIT.badInput : EXIT.ok;
      }
      const sub = subcommands.find((s) => s.name === subName);
      if (!sub) throw new UsageError(`unknown subcommand "${subName}" (${subcommands.map((s) => s.name).join(', ')}); saferoll ${name} --help`);
      const subUsage = subcommandUsage(name, sub);
      const { values, positionals } = parseFlags(rest, { ...ROUTER_FLAGS, json: { type: 'boolean' }, ...sub.flags }, true);
      if (values.help) {
        console.log(subUsage);
        return EXIT.ok;
      }
      const [min, max] = sub.args;
      if (positionals.length < min || positionals.length > max) {
        throw new UsageError(`expected: saferoll ${name} ${sub.synopsis} (see --help)`);
      }
      return withSession(resolveRouterConfig(values as Record<string, string | undefined>), (session) =>
        sub.run({ values, positionals, session, json: values.json === true }),
      );
    },
  };
}

function subcommandUsage(group: string, sub: Subcommand): string {
  return [
    `Usage: saferoll ${group} ${sub.synopsis}`,
    '',
    sub.details ?? `${sub.summary[0]?.toUpperCase() ?? ''}${sub.summary.slice(1)}.`,
    '',
    'Options:',
    ...(sub.flagsHelp ? [sub.flagsHelp] : []),
    '  --json                  print JSON on stdout',
    ROUTER_HELP,
    '  -h, --help              this help',
    '',
    ROUTER_ENV_HELP,
  ].join('\n');
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function listFlag(values: FlagValues, name: string): string[] | undefined {
  const value = values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
