// How a process instance is kept from the router's secrets. With `namespaces`
// each instance runs in its own user, mount and pid namespaces (util-linux
// `unshare`): the router's state dir (endpoint keys, admin token) lies under an
// empty read-only tmpfs, the router's processes (and /proc/<pid>/environ, which
// keeps the environment a process started with) are not visible, and the
// command runs with no capabilities, so it cannot unmount the cover.
//
// The process the router spawns, records and signals is `unshare` itself: it
// leads the instance's process group, stays in the router's pid namespace
// (so /proc/<pid>/stat and environ can be checked on adoption), blocks SIGTERM
// and SIGINT, and, through --kill-child, takes the whole namespace down when it
// is killed.
// A SIGTERM to the group reaches the command, whose exit ends the shell that
// is the namespace's init, then `unshare`, with the command's exit code.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SaferollError } from '../../shared/errors.js';

export type InstanceIsolation =
  /** `hiddenDirs`: absolute paths the instances must not see (the state dir). */
  { readonly mode: 'namespaces'; readonly hiddenDirs: readonly string[] } | { readonly mode: 'none' };

export const ISOLATION_MODES = ['namespaces', 'none'] as const;

const UNSHARE_ARGS = ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--mount-proc', '--kill-child'];

/** Exit code of the wrapper itself when it cannot hide a directory or enter the working directory. */
const SETUP_FAILED = 125;

// $1: working directory, $2: number of directories to hide, then those, then the command.
// The command is not exec'ed: as the namespace's init (pid 1) it would never get
// a SIGTERM it has no handler for. `exit "$status"` keeps the shell from exec'ing it.
const SCRIPT = `cwd=$1; n=$2; shift 2
while [ "$n" -gt 0 ]; do
  mount -t tmpfs -o ro,size=4k,mode=0555 saferoll-hidden "$1" || exit ${SETUP_FAILED}
  shift; n=$((n - 1))
done
cd -- "$cwd" || exit ${SETUP_FAILED}
setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs -- "$@"
status=$?
exit "$status"`;

export interface Launch {
  readonly file: string;
  readonly args: string[];
}

/** The program and arguments that run `command` under `isolation`, in `cwd`. */
export function launchOf(isolation: InstanceIsolation, command: string, args: readonly string[], cwd: string): Launch {
  if (isolation.mode === 'none') return { file: command, args: [...args] };
  return {
    file: 'unshare',
    args: [
      ...UNSHARE_ARGS,
      '--',
      '/bin/sh',
      '-c',
      SCRIPT,
      'saferoll-instance',
      cwd,
      String(isolation.hiddenDirs.length),
      ...isolation.hiddenDirs,
      command,
      ...args,
    ],
  };
}

/**
 * Why an isolated instance ended, from the wrapper's exit code: the shell
 * reports a command killed by signal N as 128+N.
 */
export function endReasonOf(isolation: InstanceIsolation, code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `was killed by ${signal}`;
  if (isolation.mode === 'namespaces' && code !== null && code > 128) {
    const name = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name !== undefined) return `was killed by ${name}`;
  }
  if (isolation.mode === 'namespaces' && code === SETUP_FAILED) return `exited with code ${code} (could not set up its isolation: see its output)`;
  return `exited with code ${code}`;
}

const checks = new Map<string, Promise<void>>();

/**
 * Resolves once an isolated instance has been shown to start on this machine
 * (checked once per set of hidden directories); rejects with what to do otherwise.
 */
export function checkIsolation(isolation: InstanceIsolation): Promise<void> {
  if (isolation.mode === 'none') return Promise.resolve();
  const key = JSON.stringify(isolation.hiddenDirs);
  let check = checks.get(key);
  if (check === undefined) {
    check = tryIsolated(isolation);
    checks.set(key, check);
  }
  return check;
}

function tryIsolated(isolation: InstanceIsolation): Promise<void> {
  const launch = launchOf(isolation, 'true', [], '/');
  return new Promise((resolve, reject) => {
    const child = spawn(launch.file, launch.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const fail = (detail: string): void =>
      reject(
        new SaferollError(
          'SAFEROLL_E_PROVISIONING',
          `process instances run in their own user, mount and pid namespaces (--instance-isolation namespaces), ` +
            `and this machine refused: ${detail.trim() || 'no output'}. Enable user namespaces (Linux, util-linux unshare and setpriv), ` +
            `or start the router with --instance-isolation none, which lets every process deployment read the router's state dir ` +
            `(endpoint keys, admin token) and environment`,
        ),
      );
    child.once('error', (err) => fail(`cannot run unshare: ${err.message}`));
    child.once('close', (code, signal) => (code === 0 ? resolve() : fail(`${output} (${endReasonOf(isolation, code, signal)})`)));
  });
}
