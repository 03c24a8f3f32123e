// Follows a rollout by polling its status query, so client requests can be
// tagged with the phase current when they were sent, and phase changes are
// kept with the (client-side) time they were first seen.
import type { WorkflowHandle } from '@temporalio/client';
import type { rolloutWorkflow } from '../../workflows/rollout.js';
import type { RolloutStatus } from '../../workflows/types.js';
import { nowMs } from './load.js';
import { queryStatus } from './temporal.js';

export class PhaseTracker {
  current = 'before rollout';
  last: RolloutStatus | undefined;
  readonly changes: { atMs: number; tag: string }[] = [];
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly handle: WorkflowHandle<typeof rolloutWorkflow>,
    private readonly everyMs = 100,
    private readonly tagOf: (s: RolloutStatus) => string = defaultTag,
  ) {}

  start(): this {
    this.loop = this.poll();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    while (this.running) {
      try {
        const status = await queryStatus(this.handle);
        this.last = status;
        const tag = this.tagOf(status);
        if (tag !== this.current) {
          this.current = tag;
          this.changes.push({ atMs: nowMs(), tag });
        }
        if (status.phase === 'Promoted' || status.phase === 'RolledBack') return;
      } catch {
        // a query can fail while the workflow ends; the next poll tells
      }
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }
}

/** The step and the routes in force, e.g. "traffic 10% 5s: blue 90 / green 10", or the phase outside bakes. */
export function defaultTag(s: RolloutStatus): string {
  if (s.phase !== 'Mirror' && s.phase !== 'Traffic') return s.phase;
  const routes = `blue ${s.traffic.blue} / green ${s.traffic.green}${s.mirrorPercent > 0 ? ` + mirror ${s.mirrorPercent}` : ''}`;
  return `${s.step}: ${routes}`;
}
