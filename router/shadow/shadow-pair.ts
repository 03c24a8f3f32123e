// One mirrored request's pair of answers: blue's (copied as it streams to the
// client, never held back) and green's (the mirror copy's, otherwise
// dropped). Once both are complete it is judged and booked, after the
// client's answer has been handed on, so the client never waits for it.
import type { ShadowComparator, ShadowAnswer } from '../../shared/shadow-compare.js';
import { diffAnswer, type ShadowDiffs } from './shadow-diffs.js';
import type { ShadowMetrics } from './shadow-metrics.js';

/** Answers larger than this are not compared: the pair is shed (and counted). */
export const SHADOW_ANSWER_MAX_BYTES = 64 * 1024;

/** What a mirrored deployment's pairs are judged with and booked into (route-table.ts holds one per compared mirror). */
export interface ShadowSetup {
  comparator: ShadowComparator;
  metrics: ShadowMetrics;
  diffs: ShadowDiffs;
}

/** One side's copy of its answer, bounded. */
class AnswerCopy {
  status = 0;
  private chunks: Buffer[] = [];
  private size = 0;
  overflow = false;
  done = false;

  add(chunk: Buffer): void {
    if (this.overflow) return;
    this.size += chunk.length;
    if (this.size > SHADOW_ANSWER_MAX_BYTES) {
      // Memory stays bounded: what was copied is let go at once.
      this.overflow = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  answer(): ShadowAnswer {
    return { status: this.status, body: this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size) };
  }
}

export class ShadowPair {
  readonly blue = new AnswerCopy();
  readonly green = new AnswerCopy();

  constructor(
    private readonly setup: ShadowSetup,
    private readonly method: string,
    private readonly path: string,
    private readonly release: () => void,
  ) {}

  /** Blue's answer is complete (status 0: it failed without one, or the client left before its end). */
  blueEnd(status: number): void {
    this.blue.status = status;
    this.blue.done = true;
    if (this.green.done) this.judge();
  }

  /** Green's answer is complete (status 0: no answer). */
  greenEnd(status: number): void {
    this.green.status = status;
    this.green.done = true;
    if (this.blue.done) this.judge();
  }

  private judge(): void {
    this.release();
    const { metrics, diffs, comparator } = this.setup;
    if (this.blue.overflow || this.green.overflow) {
      metrics.shed();
      return;
    }
    const blue = this.blue.answer();
    const green = this.green.answer();
    const verdict = comparator.compare(blue, green);
    metrics.book(verdict);
    if (verdict.result === 'mismatch') {
      diffs.add({
        at: new Date().toISOString(),
        method: this.method,
        path: this.path,
        reason: verdict.reason ?? 'answers differ',
        blue: diffAnswer(blue.status, blue.body),
        green: diffAnswer(green.status, green.body),
      });
    }
  }
}
