// The state dir lock in this process: held, released, and the stale locks it
// takes over (holder gone, pid reused, lock copied along with the dir).
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTimeOf } from '../../router/providers/os-process.js';
import { dirIdentity, lockStateDir } from '../../router/state-dir-lock.js';

async function freshDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'saferoll-lock-'));
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? -1;
}

async function writeLock(dir: string, generation: number, holder: object): Promise<void> {
  await writeFile(path.join(dir, `router.lock.${generation}`), JSON.stringify(holder));
}

async function lockFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('router.lock')).sort();
}

describe('lockStateDir', () => {
  it('refuses while the dir is held, naming the holder, and takes it at once after release', async () => {
    const dir = await freshDir();
    const lock = await lockStateDir(dir);
    await expect(lockStateDir(dir)).rejects.toMatchObject({
      code: 'SAFEROLL_E_CONFLICT',
      message: expect.stringContaining(`state dir ${dir} is in use by router pid ${process.pid}`),
    });
    await lock.release();
    const again = await lockStateDir(dir);
    expect(await lockFiles(dir)).toEqual([path.basename(String(again.file))]);
    await again.release();
  });

  it('takes over a lock whose holder is gone', async () => {
    const dir = await freshDir();
    const pid = await deadPid();
    await writeLock(dir, 4, { pid, startTime: 1, dir: await dirIdentity(dir) });
    const lock = await lockStateDir(dir);
    expect(path.basename(String(lock.file))).toBe('router.lock.5');
    expect(await lockFiles(dir)).toEqual(['router.lock.5']);
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (another start time)', async () => {
    const dir = await freshDir();
    // This very process plays the one that reused the pid.
    await writeLock(dir, 0, { pid: process.pid, startTime: (startTimeOf(process.pid) ?? 0) + 1, dir: await dirIdentity(dir) });
    const lock = await lockStateDir(dir);
    expect(path.basename(String(lock.file))).toBe('router.lock.1');
    await lock.release();
  });

  it('ignores a lock copied along with the dir: it locks the original, not the copy', async () => {
    const dir = await freshDir();
    const held = await lockStateDir(dir);
    const copy = `${dir}-copy`;
    await cp(dir, copy, { recursive: true });
    const lock = await lockStateDir(copy);
    expect(path.basename(String(lock.file))).toBe('router.lock.1');
    await expect(lockStateDir(dir)).rejects.toMatchObject({ code: 'SAFEROLL_E_CONFLICT' });
    await lock.release();
    await held.release();
  });

  it('of routers that find the same stale lock at once, exactly one takes it', async () => {
    const dir = await freshDir();
    await writeLock(dir, 0, { pid: await deadPid(), startTime: 1, dir: await dirIdentity(dir) });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => lockStateDir(dir)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of results.filter((r) => r.status === 'rejected')) {
      expect((lost as PromiseRejectedResult).reason).toMatchObject({ code: 'SAFEROLL_E_CONFLICT' });
    }
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockStateDir>>>).value.release();
  });
});
