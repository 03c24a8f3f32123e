// The admin API's bearer token: SAFEROLL_ADMIN_TOKEN when set, else the one
// stored (mode 0600) in the state dir, else a new one generated, stored and
// printed once.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface AdminToken {
  token: string;
  /** True when this call generated it: the caller prints it once. */
  generated: boolean;
  file: string;
}

export async function resolveAdminToken(stateDir: string, fromEnv: string | undefined): Promise<AdminToken> {
  const file = path.join(stateDir, 'admin-token');
  if (fromEnv) return { token: fromEnv, generated: false, file };
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored) return { token: stored, generated: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = `sra_${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, generated: true, file };
}
