// The Prometheus that `saferoll dev --prometheus` runs (and the tests run):
// its configuration, written into the state dir, discovering its targets from
// the routing core (GET /v1/prometheus/targets) with the admin token read from
// a 0600 file. Two jobs over the same discovery: the router's /metrics takes
// the admin token, the deployments' instances must never be sent it.
import { access, chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { SaferollError } from '../shared/errors.js';

/** Debian's prometheus package puts it here (scripts/install-prometheus.sh). */
export const PROMETHEUS_BIN = '/usr/bin/prometheus';

/** Scrape every second and look for new or gone instances every two: a gate reads windows of a few seconds. */
const SCRAPE_INTERVAL = '1s';
const DISCOVERY_REFRESH = '2s';

export interface PrometheusFiles {
  /** Its own directory: config, token file, database. */
  dir: string;
  configFile: string;
  storageDir: string;
}

/** Refuses clearly when the binary is missing, naming the script that installs it. */
export async function checkPrometheusInstalled(bin = PROMETHEUS_BIN): Promise<void> {
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new SaferollError('SAFEROLL_E_VALIDATION', `${bin} is missing: install it with scripts/install-prometheus.sh (Debian's prometheus package)`, {
      field: 'prometheus',
    });
  }
}

/** The configuration as YAML: discovery from `adminUrl`, the admin token from `tokenFile`. */
export function prometheusConfig(adminUrl: string, tokenFile: string): string {
  const authorization = { type: 'Bearer', credentials_file: tokenFile };
  const discovery = [{ url: `${adminUrl.replace(/\/+$/, '')}/v1/prometheus/targets`, refresh_interval: DISCOVERY_REFRESH, authorization }];
  const only = (role: string) => [
    { source_labels: ['saferoll_role'], regex: role, action: 'keep' },
    { regex: 'saferoll_role', action: 'labeldrop' },
  ];
  return stringify({
    global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
    scrape_configs: [
      { job_name: 'saferoll-router', authorization, http_sd_configs: discovery, relabel_configs: only('router') },
      { job_name: 'saferoll-instances', http_sd_configs: discovery, relabel_configs: only('instance') },
    ],
  });
}

/** Writes the token file (0600) and the configuration under `dir`. */
export async function writePrometheusFiles(dir: string, adminUrl: string, adminToken: string): Promise<PrometheusFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode as it was.
  await chmod(dir, 0o700);
  const tokenFile = path.join(dir, 'admin-token');
  // Written to a new file that is 0600 from its first byte, then moved into
  // place: an existing file with a looser mode never holds the token.
  const fresh = `${tokenFile}.${process.pid}.tmp`;
  await rm(fresh, { force: true });
  await writeFile(fresh, adminToken, { mode: 0o600, flag: 'wx' });
  await rename(fresh, tokenFile);
  const configFile = path.join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(adminUrl, tokenFile));
  return { dir, configFile, storageDir: path.join(dir, 'data') };
}

/** The command line: its config, its database, loopback only. */
export function prometheusArgs(files: PrometheusFiles, port: number): string[] {
  return [`--config.file=${files.configFile}`, `--storage.tsdb.path=${files.storageDir}`, `--web.listen-address=127.0.0.1:${port}`];
}
