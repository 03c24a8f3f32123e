// Exponential back-off shared by the CLI's reconnecting follower and the dev
// stack's child supervisor: waits double from `initialMs` up to `maxMs`.

export class Backoff {
  private nextMs: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.nextMs = initialMs;
  }

  /** The wait before the next attempt; each call doubles the following one, up to the cap. */
  next(): number {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return wait;
  }

  reset(): void {
    this.nextMs = this.initialMs;
  }
}
