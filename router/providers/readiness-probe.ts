// Asks an instance whether it is ready: GET its readiness path on loopback,
// where a 2xx answer means ready and anything else says why not.

import { Agent, request } from 'undici';
import { urlOf } from './process-instance.js';

export const PROBE_TIMEOUT_MS = 1_000;

export interface Probe {
  readonly ok: boolean;
  readonly detail: string;
}

export class ReadinessProbe {
  /** Always starts with "/", e.g. "/healthz". */
  readonly path: string;
  private readonly agent = new Agent({ connect: { timeout: PROBE_TIMEOUT_MS } });

  constructor(readinessPath: string) {
    this.path = readinessPath.startsWith('/') ? readinessPath : `/${readinessPath}`;
  }

  async check(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
    try {
      const res = await request(`${urlOf(port)}${this.path}`, {
        method: 'GET',
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? { ok: true, detail: 'ok' } : { ok: false, detail: `answered ${res.statusCode}` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, detail: code ?? (err instanceof Error ? err.message : String(err)) };
    }
  }

  /** Closes the probe's connections; never rejects. */
  close(): Promise<void> {
    return this.agent.destroy().catch(() => undefined);
  }
}
