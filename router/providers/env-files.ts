// Environment files of a process deployment: secrets passed by reference. The
// spec (state file, GET, Temporal history) holds only the paths; the router
// reads the files at each spawn, and never shows a value, not even in errors.
// Format: one NAME=value per line, taken literally (no quotes, no expansion,
// as `docker run --env-file`); blank lines and lines starting with # are skipped.
import { isAbsolute } from 'node:path';
import { readFile } from 'node:fs/promises';
import { SaferollError } from '../../shared/errors.js';

export const ENV_FILE_MAX_BYTES = 64 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables of `files`, later files overriding earlier ones; rejects with a message that names the file and line. */
export async function readEnvFiles(files: readonly string[]): Promise<Record<string, string>> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const file of files) Object.assign(env, parseEnvFile(await readEnvFile(file), file));
  return env;
}

/** Refuses (400 naming `field.<i>`) a file that is not absolute, not readable or not NAME=value lines. */
export async function checkEnvFiles(files: readonly string[] | undefined, field: string): Promise<void> {
  for (const [i, file] of (files ?? []).entries()) {
    try {
      parseEnvFile(await readEnvFile(file), file);
    } catch (err) {
      throw new SaferollError('SAFEROLL_E_VALIDATION', `${field}.${i}: ${(err as Error).message}`, { field: `${field}.${i}` });
    }
  }
}

async function readEnvFile(file: string): Promise<string> {
  if (!isAbsolute(file)) throw new Error(`env file ${file} must be an absolute path (the router reads it)`);
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (err) {
    throw new Error(`cannot read env file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > ENV_FILE_MAX_BYTES) throw new Error(`env file ${file} is larger than ${ENV_FILE_MAX_BYTES} bytes`);
  return text.toString('utf8');
}

function parseEnvFile(text: string, file: string): Record<string, string> {
  // No prototype: a line "__proto__=x" is a variable like any other.
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq);
    // The line itself is never shown: it may hold a secret.
    if (!NAME.test(name)) throw new Error(`env file ${file}:${i + 1}: expected NAME=value with NAME an identifier`);
    env[name] = line.slice(eq + 1);
  }
  return env;
}
