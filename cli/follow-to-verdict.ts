// Follows a rollout to its verdict and turns it into the exit code scripts
// rely on: what `start --wait` and `wait` both do, so they print and exit alike.
import { EXIT } from './command.js';
import { followRollout, isLiveTerminal, type RolloutHandle } from './follow-rollout.js';
import { resultLines } from './rollout-view.js';
import type { Session } from './session.js';

/**
 * Progress goes to stdout, or to stderr with --json (stdout then carries only
 * the final result). A workflow that fails instead of returning a verdict
 * throws (exit 5, see rolloutResult).
 */
export async function followToVerdict(session: Session, handle: RolloutHandle, endpoint: string, json: boolean, reconnectTimeoutMs: number): Promise<number> {
  const progress = progressStream(json);
  // Ctrl-C stops following, not the rollout: say so, and how to reach it again.
  const stopFollowing = (): void => {
    progress.write(`\nstopped following; the rollout goes on: saferoll wait ${endpoint} | saferoll status ${endpoint} | saferoll abort ${endpoint}\n`);
    process.exit(130);
  };
  process.once('SIGINT', stopFollowing);
  let result;
  try {
    result = await followRollout(handle, {
      out: progress,
      live: isLiveTerminal(progress),
      query: () => session.queryStatus(handle),
      // A lost connection to Temporal is ridden out (temporal-link.ts): the rollout goes on without us.
      reconnect: { address: session.temporalSettings.temporalAddress, endpoint, reconnectTimeoutMs, probe: () => session.probeTemporal() },
    });
  } finally {
    process.off('SIGINT', stopFollowing);
  }
  if (json) {
    for (const line of resultLines(result, handle.workflowId)) progress.write(`${line}\n`);
    console.log(JSON.stringify(result, null, 2));
  } else {
    for (const line of resultLines(result, handle.workflowId)) console.log(line);
  }
  return result.outcome === 'promoted' ? EXIT.ok : EXIT.rolledBack;
}

export function progressStream(json: boolean): NodeJS.WriteStream {
  return json ? process.stderr : process.stdout;
}
