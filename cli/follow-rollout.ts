// Follows a running rollout until it ends: polls the status query, redraws a
// progress block on a terminal or prints one line per new decision in CI,
// then returns the workflow's result.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure } from '@temporalio/common';
import { SaferollError } from '../shared/errors.js';
import { statusQuery } from '../workflows/messages.js';
import { rolledBackResult } from '../workflows/rolled-back.js';
import type { rolloutWorkflow } from '../workflows/rollout.js';
import type { RolloutResult, RolloutStatus } from '../workflows/types.js';
import { UsageError } from './command.js';
import { decisionKey, decisionLine, statusLines, stepText, trafficText } from './rollout-view.js';

export type RolloutHandle = WorkflowHandle<typeof rolloutWorkflow>;

export interface FollowOptions {
  out: NodeJS.WriteStream;
  /** Redraw a block in place (a terminal) instead of appending lines (CI, pipes). */
  live: boolean;
  pollMs?: number;
  /** How to ask for the status (default: the plain query). */
  query?: () => Promise<RolloutStatus>;
}

/** A terminal a person watches, unless CI says otherwise. */
export function isLiveTerminal(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.CI !== 'true' && env.CI !== '1';
}

export async function followRollout(handle: RolloutHandle, options: FollowOptions): Promise<RolloutResult> {
  const pollMs = options.pollMs ?? 500;
  const query = options.query ?? (() => handle.query(statusQuery));
  const view = options.live ? new LiveBlock(options.out) : new LogLines(options.out);
  let done = false;
  let wake: () => void = () => undefined;
  const outcome = rolloutResult(handle).finally(() => {
    done = true;
    wake();
  });
  // Observed via `outcome` below; this keeps an early rejection from being reported as unhandled.
  outcome.catch(() => undefined);

  while (!done) {
    try {
      view.show(await query());
    } catch (err) {
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
      throw new SaferollError('SAFEROLL_E_INTERNAL', `rollout ${handle.workflowId} was terminated, so no rollback ran: check the endpoint's traffic (saferoll endpoint show)`);
    }
    throw new SaferollError('SAFEROLL_E_INTERNAL', `rollout ${handle.workflowId} failed: ${cause?.message ?? err.message}`, { cause: err });
  }
}

interface ProgressView {
  show(status: RolloutStatus): void;
  queryFailed(message: string): void;
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
