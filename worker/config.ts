// Where the worker and the CLI connect: the Temporal server (temporal-config.ts)
// and the routing core (admin API + data plane). One resolution for both, so
// the worker and every command read the same flags and variables the same way:
// a flag, else its environment variable, else (for Temporal) the profile, else the default.
import type { NativeConnectionOptions } from '@temporalio/worker';
import { TASK_QUEUE } from '../workflows/messages.js';
import { resolveTemporalSettings, type TemporalFlags, type TemporalSettings } from './temporal-config.js';

export interface RouterSettings {
  routerAdminUrl: string;
  routerDataUrl: string;
  adminToken: string;
}

export interface WorkerConfig extends RouterSettings, TemporalSettings {
  taskQueue: string;
}

export interface RouterFlags {
  'router-url'?: string | undefined;
  'data-url'?: string | undefined;
}

export interface WorkerFlags extends RouterFlags, TemporalFlags {
  'task-queue'?: string | undefined;
}

/** A flag, else its variable (empty counts as unset), else the default. */
export function flagOrEnv(flag: string | undefined, value: string | undefined, fallback: string): string {
  return flag ?? (value || fallback);
}

/** The routing core: --router-url / SAFEROLL_ROUTER_URL, --data-url / SAFEROLL_DATA_URL, SAFEROLL_ADMIN_TOKEN. */
export function resolveRouterSettings(flags: RouterFlags, env: NodeJS.ProcessEnv = process.env): RouterSettings {
  return {
    routerAdminUrl: flagOrEnv(flags['router-url'], env.SAFEROLL_ROUTER_URL, 'http://127.0.0.1:8081'),
    routerDataUrl: flagOrEnv(flags['data-url'], env.SAFEROLL_DATA_URL, 'http://127.0.0.1:8080'),
    adminToken: env.SAFEROLL_ADMIN_TOKEN || '',
  };
}

/** Everything the worker needs; throws a SAFEROLL_E_VALIDATION error naming the flag, variable or profile field of a bad value. */
export function resolveWorkerConfig(flags: WorkerFlags, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return {
    ...resolveRouterSettings(flags, env),
    ...resolveTemporalSettings(flags, env),
    taskQueue: flagOrEnv(flags['task-queue'], env.SAFEROLL_TASK_QUEUE, TASK_QUEUE),
  };
}

/** The options of a Temporal (Native)Connection: the client's Connection takes the same fields. */
export function connectionOptions(settings: TemporalSettings): NativeConnectionOptions {
  return { address: settings.temporalAddress, tls: settings.tls, apiKey: settings.apiKey, metadata: settings.metadata };
}
