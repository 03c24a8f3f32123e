// Steady client traffic against an endpoint during a rollout, counting what
// clients saw per deployment, so tests can assert "zero failed requests".
import { Agent } from 'undici';
import { callDataPlane } from './router.js';

export interface LoadReport {
  sent: number;
  failed: number;
  byStatus: Record<number, number>;
  byDeployment: Record<string, number>;
  failures: string[];
}

export interface Load {
  report: LoadReport;
  stop(): Promise<LoadReport>;
}

/** `concurrency` clients in closed loops, each pausing `pauseMs` between requests. */
export function startLoad(dataUrl: string, endpoint: string, key: string, concurrency = 4, pauseMs = 10): Load {
  const agent = new Agent({ connections: concurrency * 2 });
  const report: LoadReport = { sent: 0, failed: 0, byStatus: {}, byDeployment: {}, failures: [] };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const r = await callDataPlane(dataUrl, agent, endpoint, { key, path: '/score' });
        report.sent++;
        report.byStatus[r.status] = (report.byStatus[r.status] ?? 0) + 1;
        if (r.deployment) report.byDeployment[r.deployment] = (report.byDeployment[r.deployment] ?? 0) + 1;
        if (r.status >= 400) {
          report.failed++;
          if (report.failures.length < 20) report.failures.push(`${r.status} ${r.deployment ?? ''} ${r.body.slice(0, 120)}`);
        }
      } catch (err) {
        report.sent++;
        report.failed++;
        if (report.failures.length < 20) report.failures.push((err as Error).message);
      }
      // Pacing between requests of one client, not a wait for a condition.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    report,
    async stop() {
      running = false;
      await Promise.all(loops);
      await agent.close();
      return report;
    },
  };
}
