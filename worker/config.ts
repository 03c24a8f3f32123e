// Where the worker connects: the Temporal server (address, namespace, TLS or
// API key) and the routing core (admin API + data plane), from flags or the
// environment.
import { readFile } from 'node:fs/promises';
import type { NativeConnectionOptions } from '@temporalio/worker';

export interface WorkerConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  routerAdminUrl: string;
  routerDataUrl: string;
  adminToken: string;
  /** TLS client certificate and key files (mTLS), or `true` for server-verified TLS. */
  tls?: { certFile?: string | undefined; keyFile?: string | undefined; serverName?: string | undefined } | undefined;
  apiKey?: string | undefined;
}

export async function connectionOptions(config: WorkerConfig): Promise<NativeConnectionOptions> {
  const options: NativeConnectionOptions = { address: config.temporalAddress };
  if (config.apiKey) {
    options.apiKey = config.apiKey;
    options.tls = true;
  }
  if (config.tls) {
    const { certFile, keyFile, serverName } = config.tls;
    options.tls = {
      serverNameOverride: serverName,
      clientCertPair: certFile && keyFile ? { crt: await readFile(certFile), key: await readFile(keyFile) } : undefined,
    };
  }
  return options;
}

/** Reads TEMPORAL_* and SAFEROLL_* variables (the same names the CLI uses). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<WorkerConfig, 'taskQueue'> {
  const tlsWanted = env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS_CERT !== undefined;
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    routerAdminUrl: env.SAFEROLL_ROUTER_URL || 'http://127.0.0.1:8081',
    routerDataUrl: env.SAFEROLL_DATA_URL || 'http://127.0.0.1:8080',
    adminToken: env.SAFEROLL_ADMIN_TOKEN || '',
    apiKey: env.TEMPORAL_API_KEY || undefined,
    tls: tlsWanted ? { certFile: env.TEMPORAL_TLS_CERT, keyFile: env.TEMPORAL_TLS_KEY, serverName: env.TEMPORAL_TLS_SERVER_NAME } : undefined,
  };
}
