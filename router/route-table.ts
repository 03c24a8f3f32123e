// What the data plane reads per request: for each endpoint, its key digests,
// the live split, the mirror share and the deployments by name. Rebuilt
// (cheaply) whenever traffic, keys or deployments change, swapped in whole,
// so a request sees either the old table or the new one, never a mix.
import type { DeploymentProvider } from './providers/provider.js';
import type { MirrorShedCounter, TrafficKind, TrafficMetrics } from './metrics.js';
import { ShadowDiffs } from './shadow/shadow-diffs.js';
import type { ShadowSetup } from './shadow/shadow-pair.js';
import type { ShadowMetrics } from './shadow/shadow-metrics.js';

/** A deployment as the data plane sees it; lives as long as the deployment. */
export class DeploymentTarget {
  private nextInstance = 0;
  /** The last mismatching pairs while this deployment was mirrored with a comparison; kept as long as the deployment. */
  readonly shadowDiffs = new ShadowDiffs();

  constructor(
    readonly endpoint: string,
    readonly name: string,
    readonly provider: DeploymentProvider,
    readonly metrics: Record<TrafficKind, TrafficMetrics>,
    readonly mirrorShed: MirrorShedCounter,
    readonly shadow: ShadowMetrics,
  ) {}

  /** Round-robin over the ready instances; undefined when none is ready. */
  pickInstance(): string | undefined {
    const urls = this.provider.readyUrls();
    if (urls.length === 0) return undefined;
    const index = this.nextInstance++ % urls.length;
    if (this.nextInstance >= 1_000_000_000) this.nextInstance = 0;
    return urls[index];
  }
}

interface LiveSlot {
  target: DeploymentTarget;
  /** Exclusive upper bound of this deployment's slots in 0..99. */
  upTo: number;
}

// Shares are dealt from a counter rather than a random draw: slot = (n * STRIDE)
// mod 100 visits every slot once per 100 requests, spread evenly, so "10%"
// is exactly 10 of every 100 requests and a gate's sample size is
// predictable. The strides are coprime with 100.
const LIVE_STRIDE = 61;
const MIRROR_STRIDE = 37;

/**
 * Where an endpoint's dealing stands. It outlives route tables: tables are
 * rebuilt on every change (an instance restarting anywhere, say), and
 * restarting the sequence each time would starve a 10% share.
 */
export interface SplitCounters {
  live: number;
  mirror: number;
}

export class EndpointRoutes {
  private readonly live: LiveSlot[];

  constructor(
    readonly name: string,
    readonly keyDigests: readonly Buffer[],
    traffic: ReadonlyMap<string, number>,
    readonly mirror: { target: DeploymentTarget; percent: number } | undefined,
    readonly byName: ReadonlyMap<string, DeploymentTarget>,
    private readonly counters: SplitCounters = { live: 0, mirror: 0 },
    /** How the mirror's answers are paired with blue's and judged; undefined: they are dropped unread. */
    readonly shadow: ShadowSetup | undefined = undefined,
  ) {
    let upTo = 0;
    this.live = [];
    for (const [deployment, percent] of traffic) {
      const target = byName.get(deployment);
      if (!target || percent <= 0) continue;
      upTo += percent;
      this.live.push({ target, upTo });
    }
  }

  pickLive(): DeploymentTarget | undefined {
    const slots = this.live;
    if (slots.length === 1) return slots[0]?.target;
    const counters = this.counters;
    const slot = (counters.live++ * LIVE_STRIDE) % 100;
    if (counters.live >= 1_000_000_000) counters.live = 0;
    for (const candidate of slots) if (slot < candidate.upTo) return candidate.target;
    return undefined;
  }

  /** The mirror deployment when this request should be copied to it. */
  pickMirror(): DeploymentTarget | undefined {
    const mirror = this.mirror;
    if (!mirror) return undefined;
    const counters = this.counters;
    const slot = (counters.mirror++ * MIRROR_STRIDE) % 100;
    if (counters.mirror >= 1_000_000_000) counters.mirror = 0;
    return slot < mirror.percent ? mirror.target : undefined;
  }
}

export type RouteTable = ReadonlyMap<string, EndpointRoutes>;
