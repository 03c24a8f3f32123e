// `saferoll dev` and `saferoll demo` with `--data-plane envoy`: installs Envoy
// with scripts/install-envoy.sh the first time it is needed (unless
// SAFEROLL_ENVOY_BIN names a binary of the user's own).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { envoyBinary } from '../router/envoy/envoy-binary.js';
import { projectRoot } from '../shared/project-root.js';

export async function ensureEnvoy(): Promise<void> {
  try {
    envoyBinary();
    return;
  } catch (err) {
    if (process.env.SAFEROLL_ENVOY_BIN) throw err;
  }
  const script = path.join(projectRoot(), 'scripts', 'install-envoy.sh');
  await new Promise<void>((resolve) => {
    const child = spawn(script, [], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
  envoyBinary();
}
