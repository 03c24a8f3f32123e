// The owner marker of a state dir's process instances: every instance gets it
// in its environment, and a recorded process is re-adopted only if it carries
// it (providers/process-ownership.ts). It is a random id kept in the dir plus
// the dir's device and inode, so a copy of the dir (same id, other inode) never
// claims the processes of the router that runs on the original.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dirIdentity } from './state-dir-lock.js';

/** Call with the state dir locked (state-dir-lock.ts): the id is created once. */
export async function ownerMarker(stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'router-id');
  let id: string | undefined;
  try {
    id = (await readFile(file, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (id === undefined) {
    id = randomBytes(16).toString('hex');
    await writeFile(file, `${id}\n`, { mode: 0o600 });
  }
  return `${id}:${await dirIdentity(stateDir)}`;
}
