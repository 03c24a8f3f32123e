// Records workflow histories for the replay test: run the workflow tests with
// SAFEROLL_RECORD_HISTORIES=1 to refresh test/histories/*.json after an
// intended change to workflow code.
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { WorkflowHandle } from '@temporalio/client';
import { PROJECT_ROOT } from './cli.js';

export const HISTORIES_DIR = path.join(PROJECT_ROOT, 'test/histories');

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.SAFEROLL_RECORD_HISTORIES !== '1') return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}
