// Durable router state: one JSON file, replaced atomically (write a temp
// file, fsync, rename, fsync the directory) before the admin API answers.
// A file that cannot be read, parsed or validated (state-file.ts) stops the
// router: silently starting empty, or serving a split that sums to 250,
// would drop or misroute every endpoint's traffic. A change that cannot be
// written (disk full, read-only) is refused with SAFEROLL_E_STATE_WRITE.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SaferollError } from '../shared/errors.js';
import { emptyState, type RouterState } from './model.js';
import { readState, writeState } from './state-file.js';

export class StateStore {
  readonly file: string;

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
    const read = readState(parsed);
    if ('violation' in read) {
      const { field, message } = read.violation;
      throw new SaferollError(
        'SAFEROLL_E_STATE_CORRUPT',
        `${this.file}: ${field ? `${field}: ` : ''}${message} (router state refused and left untouched: fix it, restore it from a backup, or move it away to start empty)`,
        { field: field || undefined },
      );
    }
    return read.state;
  }

  /** Saves `state`. One save at a time: the caller (state-changes.ts) queues the changes. */
  async save(state: RouterState): Promise<void> {
    const text = writeState(state);
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
