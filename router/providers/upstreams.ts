// The `upstreams` deployment provider: the instances are URLs of servers that
// already run elsewhere, so there is nothing to start, probe, log or stop here.

import { SaferollError } from '../../shared/errors.js';
import type { DeploymentProvider, InstanceRecord, InstanceView } from './provider.js';

export class UpstreamsProvider implements DeploymentProvider {
  readonly kind = 'upstreams' as const;
  private readonly urls: readonly string[];
  private count = 0;
  private stopped = false;
  private readonly listeners: Array<() => void> = [];

  /** `urls` are base URLs (http or https); a trailing slash is dropped so paths join cleanly. */
  constructor(urls: readonly string[]) {
    if (urls.length === 0) {
      throw new SaferollError('SAFEROLL_E_VALIDATION', 'upstreams: give at least one URL', { field: 'upstreams' });
    }
    this.urls = urls.map((url, i) => {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        throw new SaferollError('SAFEROLL_E_VALIDATION', `upstreams.${i}: not an http(s) URL: ${url}`, { field: `upstreams.${i}` });
      }
      return url.replace(/\/+$/, '');
    });
  }

  /** Routes over the first `count` URLs; `count` must be 1..urls.length. */
  async scale(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > this.urls.length) {
      throw new SaferollError(
        'SAFEROLL_E_VALIDATION',
        `instanceCount must be a whole number from 1 to ${this.urls.length} (the number of upstream URLs), got ${count}`,
        { field: 'instanceCount' },
      );
    }
    if (this.stopped) throw new SaferollError('SAFEROLL_E_CONFLICT', 'the deployment is stopped');
    if (count === this.count) return;
    this.count = count;
    this.changed();
  }

  instances(): readonly InstanceView[] {
    const state = this.stopped ? 'stopped' : 'ready';
    return this.urls.slice(0, this.count).map((url, i) => ({ id: String(i), url, state, healthy: !this.stopped, restarts: 0 }));
  }

  readyUrls(): readonly string[] {
    return this.stopped ? [] : this.urls.slice(0, this.count);
  }

  async logs(_lines: number): Promise<string[]> {
    return [];
  }

  records(): InstanceRecord[] {
    return [];
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The servers are not ours to stop: we only stop routing to them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.changed();
    this.listeners.length = 0;
  }

  detach(): void {
    this.listeners.length = 0;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
