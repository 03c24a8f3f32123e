// The activity behind the shadow comparison gate: green's pair counters from
// the routing core's /metrics?endpoint= (the built-in data plane makes the
// pairs, so they are read there whatever analysis.source is) and, once there
// is a mismatch, the newest mismatching pair as one short line, which a
// rollback's reason quotes. Read-only, so a retry is harmless.
import { shadowSnapshot, type ShadowSnapshot } from '../analysis/shadow-checks.js';
import type { AdminClient } from '../router/client.js';
import type { ShadowDiff, ShadowDiffAnswer } from '../router/shadow/shadow-diffs.js';
import { classified } from './failures.js';

export interface ShadowPairsRequest {
  endpoint: string;
  green: string;
}

export interface ShadowPairsReading {
  snapshot: ShadowSnapshot;
  /** The newest mismatching pair, e.g. `POST /score: $.score: 0.91 vs 0.42 (tolerance 0.01); blue 200 {...} / green 200 {...}`. */
  example?: string | undefined;
}

/** Each answer's body is quoted up to this many characters (the reason travels in history, notifications and the UI). */
const EXAMPLE_BODY_CHARS = 160;

export function createShadowActivities(admin: AdminClient) {
  return {
    async readShadowPairs(req: ShadowPairsRequest): Promise<ShadowPairsReading> {
      return classified(async () => {
        const snapshot = shadowSnapshot(await admin.endpointMetricsText(req.endpoint), req.endpoint, req.green, Date.now());
        if (snapshot.series.mismatch === 0) return { snapshot };
        const [newest] = (await admin.shadowDiffs(req.endpoint, req.green)).diffs;
        return newest === undefined ? { snapshot } : { snapshot, example: describeDiff(newest) };
      });
    },
  };
}

export function describeDiff(diff: ShadowDiff): string {
  return `${diff.method} ${diff.path}: ${diff.reason}; blue ${answerText(diff.blue)} / green ${answerText(diff.green)}`;
}

function answerText(answer: ShadowDiffAnswer): string {
  const body = answer.body.replace(/\s+/g, ' ').trim();
  const cut = body.length > EXAMPLE_BODY_CHARS || answer.truncated;
  return `${answer.status} ${cut ? `${body.slice(0, EXAMPLE_BODY_CHARS)}…` : body}`;
}
