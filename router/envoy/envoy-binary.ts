// Where the Envoy binary is: $SAFEROLL_ENVOY_BIN, else the one
// scripts/install-envoy.sh puts in .tools/bin. Missing, it is a start error
// that says how to install it.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { SaferollError } from '../../shared/errors.js';
import { projectRoot } from '../../shared/project-root.js';

export function envoyBinary(): string {
  const file = process.env.SAFEROLL_ENVOY_BIN || path.join(projectRoot(), '.tools', 'bin', 'envoy');
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new SaferollError('SAFEROLL_E_DATA_PLANE', `no Envoy binary at ${file}: run scripts/install-envoy.sh (or set SAFEROLL_ENVOY_BIN)`);
  }
  return file;
}
