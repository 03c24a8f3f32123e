// What the user-facing commands share: where Temporal and the routing core
// are (worker/config.ts resolves flags, environment and Temporal profiles), their
// clients opened lazily and closed once, and the translation of their failures
// into saferoll's exit codes.
import {
  Client,
  Connection,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  isGrpcServiceError,
  ServiceError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { AdminClient } from '../router/client.js';
import { SaferollError, isSaferollError } from '../shared/errors.js';
import { connectionOptions, flagOrEnv, resolveRouterSettings, type RouterFlags, type RouterSettings } from '../worker/config.js';
import { resolveTemporalSettings, type TemporalFlags, type TemporalSettings } from '../worker/temporal-config.js';
import { TASK_QUEUE, statusQuery } from '../workflows/messages.js';
import type { RolloutStatus } from '../workflows/types.js';
import { UsageError } from './command.js';

/** How to reach Temporal: the worker's flags too. */
export const TEMPORAL_CONNECTION_FLAGS = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  profile: { type: 'string' },
  'config-file': { type: 'string' },
} as const;

export const TEMPORAL_FLAGS = {
  ...TEMPORAL_CONNECTION_FLAGS,
  'ui-url': { type: 'string' },
} as const;

export const ROUTER_FLAGS = {
  'router-url': { type: 'string' },
  'data-url': { type: 'string' },
} as const;

export const TEMPORAL_CONNECTION_HELP = `  --address <host:port>   Temporal frontend (TEMPORAL_ADDRESS, else the profile, default localhost:7233)
  --namespace <ns>        Temporal namespace (TEMPORAL_NAMESPACE, else the profile, default "default")
  --profile <name>        profile of the Temporal config file (TEMPORAL_PROFILE, default "default")
  --config-file <file>    Temporal config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)`;

export const TEMPORAL_HELP = `${TEMPORAL_CONNECTION_HELP}
  --ui-url <url>          Temporal UI, for links (TEMPORAL_UI_URL, default http://localhost:8233)`;

export const ROUTER_HELP = `  --router-url <url>      routing core admin API (SAFEROLL_ROUTER_URL, default http://127.0.0.1:8081)
  --data-url <url>        routing core data plane (SAFEROLL_DATA_URL, default http://127.0.0.1:8080)`;

export const ROUTER_ENV_HELP = `Environment:
  SAFEROLL_ADMIN_TOKEN    admin token of the routing core (required)`;

export const TEMPORAL_ENV_HELP = `Environment (Temporal: a flag wins over its variable, a variable over the profile, as in the Temporal CLI):
  TEMPORAL_API_KEY        API key for Temporal Cloud (turns TLS on)
  TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH   client certificate and key files for mTLS
                          (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY still work)
  TEMPORAL_TLS=true       TLS without a client certificate
  TEMPORAL_TLS_SERVER_CA_CERT_PATH  CA certificate of the server
  TEMPORAL_TLS_SERVER_NAME  override the TLS server name`;

export const ENV_HELP = `${ROUTER_ENV_HELP}\n${temporalEnvLines()}`;

/** TEMPORAL_ENV_HELP under another command's "Environment:" heading. */
export function temporalEnvLines(): string {
  return TEMPORAL_ENV_HELP.replace(/^Environment.*\n/, '');
}

export interface CliConfig extends RouterSettings {
  uiUrl: string;
  /** Resolved only for the commands that talk to Temporal: a broken temporal.toml is none of `saferoll invoke`'s business. */
  temporal?: TemporalSettings | undefined;
}

export interface ConnectionFlags extends RouterFlags, TemporalFlags {
  'ui-url'?: string | undefined;
}

/** The connection settings of a command that talks to Temporal (and maybe the routing core). */
export function resolveConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): CliConfig {
  return { ...resolveRouterConfig(flags, env), temporal: resolveTemporalSettings(flags, env) };
}

/** The connection settings of a command that talks to the routing core only. */
export function resolveRouterConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): CliConfig {
  return { ...resolveRouterSettings(flags, env), uiUrl: flagOrEnv(flags['ui-url'], env.TEMPORAL_UI_URL, 'http://localhost:8233').replace(/\/+$/, '') };
}

/** How long to try reaching Temporal before saying it is unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * gRPC redials a lost server on its own, but its default back-off grows to
 * 2 minutes: a follower would see a restarted Temporal long after it is back.
 */
const REDIAL_CHANNEL_ARGS = { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000 };

/** The clients one command run needs, opened on first use and closed by `withSession`. */
export class Session {
  private adminClient: AdminClient | undefined;
  private connection: Connection | undefined;
  private client: Client | undefined;

  constructor(readonly config: CliConfig) {}

  admin(): AdminClient {
    if (!this.config.adminToken) throw new UsageError('SAFEROLL_ADMIN_TOKEN is not set: the routing core admin API needs its token');
    this.adminClient ??= new AdminClient({ adminUrl: this.config.routerAdminUrl, token: this.config.adminToken });
    return this.adminClient;
  }

  /** Where Temporal is; only commands whose config came from `resolveConfig` have it. */
  get temporalSettings(): TemporalSettings {
    if (!this.config.temporal)
      throw new SaferollError('SAFEROLL_E_INTERNAL', 'this command resolved no Temporal settings (resolveRouterConfig used where resolveConfig was needed)');
    return this.config.temporal;
  }

  async temporal(): Promise<Client> {
    if (this.client) return this.client;
    const settings = this.temporalSettings;
    try {
      this.connection = await Connection.connect({ ...connectionOptions(settings), connectTimeout: CONNECT_TIMEOUT_MS, channelArgs: REDIAL_CHANNEL_ARGS });
    } catch (err) {
      throw new SaferollError('SAFEROLL_E_UNREACHABLE', `cannot reach Temporal at ${settings.temporalAddress}: ${reasonOf(err)}`, { cause: err });
    }
    this.client = new Client({ connection: this.connection, namespace: settings.namespace });
    return this.client;
  }

  /** A rollout's status query, given up after `timeoutMs` (a query waits for a worker that may not be there). */
  async queryStatus(handle: WorkflowHandle, timeoutMs = 5_000): Promise<RolloutStatus> {
    const connection = this.connection;
    if (!connection) throw new Error('queryStatus before temporal()');
    try {
      return await connection.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
    } catch (err) {
      if (!isGrpcDeadlineError(err) && !isGrpcCancelledError(err)) throw new Error(reasonOf(err), { cause: err });
      throw new Error(`no worker answered within ${timeoutMs / 1000}s (is a saferoll worker polling task queue "${TASK_QUEUE}"?)`, { cause: err });
    }
  }

  /** Resolves when Temporal answers within `timeoutMs`: tells a lost connection from an unanswered query. */
  async probeTemporal(timeoutMs = 2_000): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('probeTemporal before temporal()');
    try {
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    } catch (err) {
      // The SDK retries an unreachable server until the deadline, which then hides the first error.
      throw new Error(isGrpcDeadlineError(err) ? `no answer within ${timeoutMs / 1000} s` : reasonOf(err), { cause: err });
    }
  }

  /** Why a rollout could not be started, as one line with exit code 3: Temporal is there but would not start it, or went away. */
  cannotStart(err: unknown, endpoint: string, startSent: boolean): SaferollError {
    const { temporalAddress, namespace } = this.temporalSettings;
    const where = `Temporal at ${temporalAddress} (namespace ${namespace})`;
    if (err instanceof NamespaceNotFoundError)
      return new SaferollError(
        'SAFEROLL_E_UNREACHABLE',
        `cannot start the rollout: namespace "${namespace}" does not exist on Temporal at ${temporalAddress}; nothing started`,
        { cause: err },
      );
    const code = grpcCodeOf(err);
    if (code === 14 || code === 4) {
      // A start request may have reached the server before the connection went.
      const after = startSent ? `it may have started: saferoll status ${endpoint}` : 'nothing started';
      return new SaferollError('SAFEROLL_E_UNREACHABLE', `cannot reach ${where}: ${reasonOf(err)}; ${after}`, { cause: err });
    }
    const reason = reasonOf(err);
    // The README's "The worker on a Temporal cluster" shows the one-time registration.
    const hint = /search attribute/i.test(reason)
      ? " (register saferoll's search attributes in this namespace once: temporal operator search-attribute create ...)"
      : '';
    return new SaferollError('SAFEROLL_E_UNREACHABLE', `${where} refused to start the rollout: ${reason}${hint}; nothing started`, { cause: err });
  }

  /** The Temporal UI page of a workflow. */
  workflowUrl(workflowId: string): string {
    return `${this.config.uiUrl}/namespaces/${encodeURIComponent(this.temporalSettings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  async close(): Promise<void> {
    await this.adminClient?.close();
    await this.connection?.close();
  }

  /** Turns client failures into errors whose code gives the documented exit code. */
  translate(err: unknown): unknown {
    if (isSaferollError(err)) {
      // The router refused the input (unknown name, bad field, wrong token): nothing changed.
      if (['SAFEROLL_E_NOT_FOUND', 'SAFEROLL_E_CONFLICT', 'SAFEROLL_E_UNAUTHORIZED', 'SAFEROLL_E_PAYLOAD_TOO_LARGE'].includes(err.code)) {
        return new UsageError(err.message);
      }
      return err;
    }
    if (err instanceof NamespaceNotFoundError)
      return new UsageError(`namespace "${this.temporalSettings.namespace}" does not exist on Temporal at ${this.temporalSettings.temporalAddress}`);
    if (err instanceof WorkflowNotFoundError) return new UsageError(err.message);
    const grpc = grpcCodeOf(err);
    // 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED
    if (grpc === 14 || grpc === 4) {
      return new SaferollError(
        'SAFEROLL_E_UNREACHABLE',
        `cannot reach Temporal at ${this.config.temporal?.temporalAddress ?? 'its address'}: ${reasonOf(err)}`,
        { cause: err },
      );
    }
    return err;
  }
}

/** Runs `fn` with a session, closing its clients and translating its errors. */
export async function withSession<T>(config: CliConfig, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = new Session(config);
  try {
    return await fn(session);
  } catch (err) {
    throw session.translate(err);
  } finally {
    await session.close().catch(() => undefined);
  }
}

function grpcCodeOf(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  return undefined;
}

/** The most telling message of an error: a ServiceError's gRPC cause says more than "Failed to query Workflow". */
function reasonOf(err: unknown): string {
  const cause = err instanceof ServiceError && err.cause ? err.cause : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.split('\n')[0] ?? message;
}
