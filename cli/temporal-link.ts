// A follower's hold on Temporal while a rollout runs. The rollout goes on in
// Temporal and the worker whether or not we watch, so losing the connection
// is no verdict: say so once, redial with back-off, say when it is back, and
// give up (exit 3) only after the reconnect limit.
import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError } from '@temporalio/client';
import { formatDuration, parseDuration } from '../policies/units.js';
import { SaferollError } from '../shared/errors.js';
import { Backoff } from './backoff.js';
import { UsageError } from './command.js';

export const DEFAULT_RECONNECT_TIMEOUT_MS = 5 * 60_000;
/** Redial quickly at first, then every 5 s: a restarted server is noticed within seconds. */
const REDIAL_FIRST_MS = 500;
const REDIAL_MAX_MS = 5_000;

export const RECONNECT_FLAGS = {
  'reconnect-timeout': { type: 'string' },
} as const;

export const RECONNECT_HELP = `  --reconnect-timeout <d> how long to keep reconnecting when the connection to Temporal is lost
                          while following (default ${formatDuration(DEFAULT_RECONNECT_TIMEOUT_MS)}; then exit 3, the rollout goes on)`;

export function reconnectTimeoutFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RECONNECT_TIMEOUT_MS;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new UsageError(`--reconnect-timeout: ${(err as Error).message}`);
  }
}

export interface TemporalLinkOptions {
  /** Temporal's address, for the lines we print. */
  address: string;
  /** The endpoint whose rollout is followed, for the give-up hint. */
  endpoint: string;
  reconnectTimeoutMs: number;
  /** Resolves when Temporal answers, rejects when it does not, within a short deadline. */
  probe(): Promise<void>;
}

export class TemporalLink {
  private outage: Promise<void> | undefined;
  private gaveUp: Error | undefined;

  constructor(
    private readonly options: TemporalLinkOptions,
    private readonly notice: (line: string) => void,
  ) {}

  /**
   * After a call to Temporal failed: resolves true once an outage has been
   * ridden out (the call is worth repeating), false when Temporal answers and
   * the failure was something else (no worker answering a query...). Rejects
   * with an exit-3 error when the reconnect limit passes first.
   */
  async recover(): Promise<boolean> {
    if (this.gaveUp) throw this.gaveUp;
    if (!this.outage) {
      const lost = await this.options.probe().then(
        () => undefined,
        (err: unknown) => err,
      );
      if (lost === undefined && !this.outage) return false;
      this.outage ??= this.rideOut(lost).finally(() => (this.outage = undefined));
    }
    await this.outage;
    return true;
  }

  private async rideOut(reason: unknown): Promise<void> {
    const { address, endpoint, reconnectTimeoutMs } = this.options;
    const lostAt = Date.now();
    this.notice(
      `lost the connection to Temporal at ${address} (${firstLine(reason)}); the rollout goes on without us: ` +
        `reconnecting for up to ${formatDuration(reconnectTimeoutMs)} (--reconnect-timeout)`,
    );
    const backoff = new Backoff(REDIAL_FIRST_MS, REDIAL_MAX_MS);
    for (;;) {
      const leftMs = reconnectTimeoutMs - (Date.now() - lostAt);
      if (leftMs <= 0) {
        throw (this.gaveUp = new SaferollError(
          'SAFEROLL_E_UNREACHABLE',
          `no connection to Temporal at ${address} for ${formatDuration(reconnectTimeoutMs)} (--reconnect-timeout); ` +
            `gave up following, the rollout goes on: saferoll status ${endpoint}`,
        ));
      }
      await sleep(Math.min(backoff.next(), leftMs));
      try {
        await this.options.probe();
      } catch {
        continue;
      }
      this.notice(`reconnected to Temporal at ${address} after ${((Date.now() - lostAt) / 1000).toFixed(1)} s; following the rollout again`);
      return;
    }
  }
}

/** A failure of the connection itself (the server gone, or not answering in time), not an answer. */
export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    // 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED
    if (isGrpcServiceError(e) && (e.code === 14 || e.code === 4)) return true;
  }
  return false;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
