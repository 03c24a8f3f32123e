// The last mismatching pairs of a mirrored deployment, in memory: the
// evidence behind a shadow gate's verdict (GET .../shadow-diffs, `saferoll
// deployment diffs`, a rollback's reason). Bounded twice: a fixed number of
// pairs, each answer cut to a few KiB.

export const SHADOW_DIFFS_KEPT = 20;
/** Each answer's body is shown up to this many bytes. */
export const SHADOW_DIFF_BODY_BYTES = 2048;

export interface ShadowDiffAnswer {
  status: number;
  /** The body as UTF-8 text, cut at SHADOW_DIFF_BODY_BYTES. */
  body: string;
  /** The whole body's size in bytes. */
  bytes: number;
  truncated: boolean;
}

export interface ShadowDiff {
  at: string;
  method: string;
  path: string;
  /** The first difference found, e.g. `$.score: 0.91 vs 0.42 (tolerance 0.01)`. */
  reason: string;
  blue: ShadowDiffAnswer;
  green: ShadowDiffAnswer;
}

export function diffAnswer(status: number, body: Buffer): ShadowDiffAnswer {
  const truncated = body.length > SHADOW_DIFF_BODY_BYTES;
  return { status, body: (truncated ? body.subarray(0, SHADOW_DIFF_BODY_BYTES) : body).toString('utf8'), bytes: body.length, truncated };
}

export class ShadowDiffs {
  private readonly ring: (ShadowDiff | undefined)[] = new Array<ShadowDiff | undefined>(SHADOW_DIFFS_KEPT);
  private next = 0;

  add(diff: ShadowDiff): void {
    this.ring[this.next] = diff;
    this.next = (this.next + 1) % SHADOW_DIFFS_KEPT;
  }

  /** Newest first. */
  list(): ShadowDiff[] {
    const diffs: ShadowDiff[] = [];
    for (let i = 1; i <= SHADOW_DIFFS_KEPT; i++) {
      const diff = this.ring[(this.next - i + SHADOW_DIFFS_KEPT) % SHADOW_DIFFS_KEPT];
      if (diff) diffs.push(diff);
    }
    return diffs;
  }
}
