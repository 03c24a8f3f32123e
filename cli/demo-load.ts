// The demo's steady client traffic: paced requests to the endpoint, each
// counted under the rollout phase it was sent in, so the summary can say how
// many requests clients saw fail in each phase.
import { Agent, request } from 'undici';

export interface PhaseCount {
  sent: number;
  failed: number;
}

export class DemoLoad {
  readonly byPhase = new Map<string, PhaseCount>();
  phase = 'before';
  private running = true;
  private readonly agent = new Agent({ connections: 8 });
  private readonly loops: Promise<void>[];

  constructor(url: string, key: string, requestsPerSecond: number, clients = 4) {
    const pauseMs = (1000 * clients) / requestsPerSecond;
    this.loops = Array.from({ length: clients }, () => this.loop(url, key, pauseMs));
  }

  get totals(): PhaseCount {
    let sent = 0;
    let failed = 0;
    for (const c of this.byPhase.values()) {
      sent += c.sent;
      failed += c.failed;
    }
    return { sent, failed };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.agent.close();
  }

  private async loop(url: string, key: string, pauseMs: number): Promise<void> {
    while (this.running) {
      const phase = this.phase;
      let ok = false;
      try {
        const answer = await request(url, {
          method: 'POST',
          dispatcher: this.agent,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: '{"features":[1,2,3]}',
          headersTimeout: 10_000,
        });
        await answer.body.dump();
        ok = answer.statusCode < 400;
      } catch {
        ok = false;
      }
      const count = this.byPhase.get(phase) ?? { sent: 0, failed: 0 };
      count.sent++;
      if (!ok) count.failed++;
      this.byPhase.set(phase, count);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}
