// Follows a running rollout until it ends: polls the status query, redraws a
// progress block on a terminal or prints one line per new decision in CI,
// rides out a lost connection to Temporal (temporal-link.ts), then returns the
// workflow's result.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure } from '@temporalio/common';
import { SaferollError } from '../shared/errors.js';
import { statusQuery } from '../workflows/messages.js';
import { rolledBackResult } from '../workflows/rolled-back.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import type { RolloutResult, RolloutStatus } from '../workflows/types.js';
import { UsageError } from './command.js';
import { decisionKey, decisionLine, statusLines, stepText, trafficText } from './rollout-view.js';
import { TemporalLink, isConnectionError, type TemporalLinkOptions } from './temporal-link.js';

export type RolloutHandle = WorkflowHandle<typeof rolloutWorkflow>;

export interface FollowOptions {
  out: NodeJS.WriteStream;
  /** Redraw a block in place (a terminal) instead of appending lines (CI, pipes). */
  live: boolean;
  pollMs?: number;
  /** How to ask for the status (default: the plain query). */
  query?: () => Promise<RolloutStatus>;
  /** Ride out a lost connection to Temporal (without it, losing Temporal ends the follow with an error). */
  reconnect?: TemporalLinkOptions;
}

/** A terminal a person watches, unless CI says otherwise. */
export function isLiveTerminal(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.CI !== 'true' && env.CI !== '1';
}

export async function followRollout(handle: RolloutHandle, options: FollowOptions): Promise<RolloutResult> {
  const pollMs = options.pollMs ?? 500;
  const query = options.query ?? (() => handle.query(statusQuery));
  const view = options.live ? new LiveBlock(options.out) : new LogLines(options.out);
  const link = options.reconnect ? new TemporalLink(options.reconnect, (line) => view.notice(line)) : undefined;
  let done = false;
  let wake: () => void = () => undefined;
  const outcome = resultThroughOutages(handle, link).finally(() => {
    done = true;
    wake();
  });
  // Observed via `outcome` below; this keeps an early rejection from being reported as unhandled.
  outcome.catch(() => undefined);

  while (!done) {
    try {
      view.show(await query());
    } catch (err) {
      if (done) break;
      // Temporal gone (waited out here), or only no answer to the query?
      const recovered = link ? await link.recover().catch(() => undefined) : false;
      // Given up: the result's call ends the follow, with the link's error (exit 3) or the result if it came
      // just in time. Not before: closing the connection under a call the SDK still retries would crash.
      if (recovered === undefined) break;
      if (recovered) continue;
      // The worker may be restarting or the workflow task is being retried: keep following.
      if (!done) view.queryFailed(err instanceof Error ? err.message : String(err));
    }
    if (done) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const result = await outcome;
  view.finish(result);
  return result;
}

/** The workflow's result, asked again after each outage of Temporal that the link rides out. */
async function resultThroughOutages(handle: RolloutHandle, link: TemporalLink | undefined): Promise<RolloutResult> {
  for (;;) {
    try {
      return await rolloutResult(handle);
    } catch (err) {
      if (!link || !isConnectionError(err)) throw err;
      await link.recover();
    }
  }
}

/**
 * The workflow's result. A rollback ends the workflow Failed with the result
 * in its details (workflows/rolled-back.ts): that is a result too. Any other
 * failure becomes a saferoll error.
 */
export async function rolloutResult(handle: RolloutHandle): Promise<RolloutResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause;
    const rolledBack = rolledBackResult(cause);
    if (rolledBack) return rolledBack;
    // The workflow refuses bad input (no blue to replace...) before it changes anything.
    if (cause instanceof ApplicationFailure && cause.type === 'SAFEROLL_E_VALIDATION') throw new UsageError(cause.message);
    if (cause instanceof TerminatedFailure) {
      throw new SaferollError(
        'SAFEROLL_E_WORKFLOW_FAILED',
        `rollout ${handle.workflowId} was terminated, so no rollback ran: check the endpoint's traffic (saferoll endpoint show)`,
      );
    }
    // Not a rollback (exit 1): the workflow ended without a verdict (exit 5).
    throw new SaferollError(
      'SAFEROLL_E_WORKFLOW_FAILED',
      `rollout ${handle.workflowId} failed without a verdict, so no rollback ran: ${cause?.message ?? err.message}`,
      { cause: err },
    );
  }
}

interface ProgressView {
  show(status: RolloutStatus): void;
  queryFailed(message: string): void;
  /** A line that stays (lost or regained the connection), outside the redrawn block. */
  notice(line: string): void;
  finish(result: RolloutResult): void;
}

/** A block redrawn in place, cut to the terminal's width so the redraw stays exact. */
class LiveBlock implements ProgressView {
  private drawn = 0;
  private last: RolloutStatus | undefined;

  constructor(private readonly out: NodeJS.WriteStream) {}

  show(status: RolloutStatus): void {
    this.last = status;
    this.draw(statusLines(status));
  }

  queryFailed(message: string): void {
    this.draw([...(this.last ? statusLines(this.last) : []), `  (status not available, retrying: ${message.split('\n')[0]})`]);
  }

  notice(line: string): void {
    this.draw([line]);
    this.drawn = 0;
    if (this.last) this.show(this.last);
  }

  finish(): void {
    this.drawn = 0;
  }

  private draw(lines: string[]): void {
    const width = Math.max(20, (this.out.columns || 120) - 1);
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.out.write(`${clear}${lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n')}\n`);
    this.drawn = lines.length;
  }
}

/** One line per new decision and per phase change, for logs that are only appended to. */
class LogLines implements ProgressView {
  private readonly seen = new Set<string>();
  private phase: string | undefined;
  private failing = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  show(status: RolloutStatus): void {
    this.failing = false;
    this.decisions(status.decisions);
    if (status.phase !== this.phase) {
      this.phase = status.phase;
      this.out.write(`phase ${status.phase}: ${stepText(status)}, traffic ${trafficText(status)}\n`);
    }
  }

  queryFailed(message: string): void {
    if (this.failing) return;
    this.failing = true;
    this.out.write(`status not available, retrying: ${message.split('\n')[0]}\n`);
  }

  notice(line: string): void {
    this.failing = false;
    this.out.write(`${line}\n`);
  }

  finish(result: RolloutResult): void {
    this.decisions(result.decisions);
  }

  private decisions(decisions: RolloutResult['decisions']): void {
    for (const decision of decisions) {
      const key = decisionKey(decision);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.out.write(`${decisionLine(decision)}\n`);
    }
  }
}
