// Durable router state: one JSON file, replaced atomically (write a temp
// file, fsync, rename, fsync the directory) before the admin API answers.
// A file that cannot be read or parsed stops the router: silently starting
// empty would drop every endpoint's traffic. A change that cannot be written
// (disk full, read-only) is refused with SAFEROLL_E_STATE_WRITE.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SaferollError } from '../shared/errors.js';
import { emptyState, type RouterState } from './model.js';

export class StateStore {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
  }

  async load(): Promise<RouterState> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw new SaferollError('SAFEROLL_E_STATE_CORRUPT', `cannot read router state ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new SaferollError(
        'SAFEROLL_E_STATE_CORRUPT',
        `router state ${this.file} is corrupt (${(err as Error).message}); it was left untouched: restore it from a backup, or move it away to start empty`,
        { cause: err },
      );
    }
    if (!isRouterState(parsed)) {
      throw new SaferollError(
        'SAFEROLL_E_STATE_CORRUPT',
        `router state ${this.file} has an unknown shape (expected version 1); it was left untouched: move it away to start empty`,
      );
    }
    return parsed;
  }

  /** Saves `state`; concurrent calls are written one after the other, in call order. */
  save(state: RouterState): Promise<void> {
    const text = JSON.stringify(state, null, 2);
    const next = this.writing.then(() => this.writeAtomically(text));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async writeAtomically(text: string): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      // A disk that is full, read-only or failing: the old file is intact and
      // the change is refused; a half-written temp file would only take space.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new SaferollError(
        'SAFEROLL_E_STATE_WRITE',
        `cannot save the router state to ${this.file} (${(err as Error).message}); nothing was changed: free space or make the state dir writable, then retry`,
        { cause: err },
      );
    }
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function isRouterState(value: unknown): value is RouterState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.version === 1 && typeof v.endpoints === 'object' && v.endpoints !== null && typeof v.deployments === 'object' && v.deployments !== null;
}
