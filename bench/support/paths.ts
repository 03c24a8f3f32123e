// Where the benchmark finds the repository (it runs from dist/bench/...) and
// where it writes its reports.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is bench/support/paths.ts, built to dist/bench/support/paths.js. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const outDir = path.join(repoRoot, 'bench', 'out');
