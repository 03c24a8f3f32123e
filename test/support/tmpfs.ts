// A small tmpfs mounted for one test file, so a state dir can really run out
// of space or turn read-only (root ignores file modes, not a read-only mount).
// Needs the right to mount (root here and in CI); `mountTmpfs` answers why
// not otherwise, so the test can skip with that reason.
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHUNK = Buffer.alloc(16 * 1024, 0x61);

export class Tmpfs {
  private readonly filler: string;

  private constructor(readonly dir: string) {
    this.filler = path.join(dir, 'filler');
  }

  /** Mounts a tmpfs of `sizeKb` on a fresh temp dir, or returns why it cannot. */
  static async mount(sizeKb: number): Promise<Tmpfs | string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-tmpfs-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
      return new Tmpfs(dir);
    } catch (err) {
      await rmdir(dir).catch(() => undefined);
      return `cannot mount a tmpfs here (${((err as { stderr?: string }).stderr || (err as Error).message).trim()}); the disk-full and read-only cases need root`;
    }
  }

  /** Writes a filler file until the file system has no page left for any other file. */
  async fill(): Promise<void> {
    const handle = await open(this.filler, 'a');
    try {
      for (;;) await handle.write(CHUNK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      await handle.close();
    }
  }

  async free(): Promise<void> {
    await rm(this.filler, { force: true });
  }

  async remount(mode: 'ro' | 'rw'): Promise<void> {
    await run('mount', ['-o', `remount,${mode}`, this.dir]);
  }

  async unmount(): Promise<void> {
    await run('umount', [this.dir]).catch(() => run('umount', ['-l', this.dir]));
    await rmdir(this.dir).catch(() => undefined);
  }
}
