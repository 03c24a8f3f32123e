// One router per state dir: two routers on one dir would overwrite each
// other's state and stop each other's instances. The lock is a file naming the
// holder by pid and start time (a pid alone is reused), so a lock whose holder
// is gone, or whose pid now runs another program, is taken over.
//
// No unlink-and-recreate race: locks are generations, router.lock.<n>, the
// highest current. A lock file appears complete (written aside, then hard-linked
// into place, which fails if the name exists), and a stale generation n is taken
// over by creating n+1: of two routers that both find n stale, exactly one
// creates n+1, and the other then finds it held. Released generations stay as
// they are (marked released), so a number is never used twice.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SaferollError } from '../shared/errors.js';
import { isRunning, startTimeOf } from './providers/os-process.js';

const LOCK_NAME = /^router\.lock\.(\d+)$/;
const ATTEMPTS = 10;

interface Holder {
  pid: number;
  /** Of `pid`; absent where there is no /proc. */
  startTime?: number | undefined;
  /** dev:ino of the state dir: a lock copied along with the dir is not a lock on the copy. */
  dir: string;
  released?: boolean | undefined;
}

export interface StateDirLock {
  /** The lock file, or undefined when the dir is read-only and nothing could be written (see lockStateDir). */
  readonly file: string | undefined;
  /** Marks the lock released; the next router takes the dir at once. Never rejects. */
  release(): Promise<void>;
}

/**
 * Locks `stateDir` for this process, or throws (SAFEROLL_E_CONFLICT) naming the router that holds it.
 * A read-only or full dir (EROFS, ENOSPC) cannot hold a lock file, but a
 * router on it cannot change state or instances either (every change is
 * refused with 507): it
 * still refuses a dir that a live router holds, and otherwise serves without
 * a lock, so the data plane survives a disk gone read-only.
 */
export async function lockStateDir(stateDir: string): Promise<StateDirLock> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const dir = await dirIdentity(stateDir);
  const me: Holder = { pid: process.pid, startTime: startTimeOf(process.pid), dir };
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const generations = await lockGenerations(stateDir);
    const top = generations[0];
    if (top !== undefined) {
      const file = path.join(stateDir, `router.lock.${top}`);
      const holder = await readHolder(file);
      if (holder === 'gone') continue; // removed by a router that took over meanwhile: look again
      if (holder !== 'unreadable' && holds(holder, dir)) {
        throw new SaferollError(
          'SAFEROLL_E_CONFLICT',
          `state dir ${stateDir} is in use by router pid ${holder.pid} (lock ${file}); stop that router first, or give this one another --state-dir`,
        );
      }
    }
    const next = top === undefined ? 0 : top + 1;
    const file = path.join(stateDir, `router.lock.${next}`);
    let created: boolean;
    try {
      created = await createExclusive(file, me);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EROFS' || code === 'ENOSPC') return { file: undefined, release: () => Promise.resolve() };
      throw err;
    }
    if (created) {
      // Older generations are stale: nobody reads them once a higher one exists.
      for (const old of generations) await unlink(path.join(stateDir, `router.lock.${old}`)).catch(() => undefined);
      return { file, release: () => markReleased(file, me) };
    }
  }
  throw new SaferollError('SAFEROLL_E_CONFLICT', `state dir ${stateDir}: could not take its lock (routers starting on it at the same time?)`);
}

/** Device and inode of the directory: the same after a rename, different for a copy. */
export async function dirIdentity(dir: string): Promise<string> {
  const info = await stat(dir, { bigint: true });
  return `${info.dev}:${info.ino}`;
}

/** Whether `holder` still holds the lock on the dir whose identity is `dir`. */
function holds(holder: Holder, dir: string): boolean {
  if (holder.released === true || holder.dir !== dir) return false;
  if (!isRunning(holder.pid)) return false;
  const now = startTimeOf(holder.pid);
  // No /proc: a live pid cannot be told apart from a reused one, so it holds.
  if (now === undefined || holder.startTime === undefined) return true;
  return now === holder.startTime;
}

/** Generation numbers present, highest first. */
async function lockGenerations(stateDir: string): Promise<number[]> {
  const names = await readdir(stateDir);
  const numbers: number[] = [];
  for (const name of names) {
    const match = LOCK_NAME.exec(name);
    if (match?.[1] !== undefined) numbers.push(Number(match[1]));
  }
  return numbers.sort((a, b) => b - a);
}

async function readHolder(file: string): Promise<Holder | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (typeof value.pid === 'number' && typeof value.dir === 'string') return value as Holder;
  } catch {
    // A torn write (a crash before the data reached the disk): nobody holds it.
  }
  return 'unreadable';
}

/** Creates `file` with `holder` in it, complete or not at all; false when it exists already. */
async function createExclusive(file: string, holder: Holder): Promise<boolean> {
  const aside = asideOf(file);
  await writeFile(aside, JSON.stringify(holder), { mode: 0o600 });
  try {
    await link(aside, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

async function markReleased(file: string, holder: Holder): Promise<void> {
  const aside = asideOf(file);
  try {
    await writeFile(aside, JSON.stringify({ ...holder, released: true }), { mode: 0o600 });
    await rename(aside, file);
  } catch {
    // The lock then looks held until this process exits, which frees it too.
  }
}

function asideOf(file: string): string {
  return `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}
