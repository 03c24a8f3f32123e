// The upstreams provider over real servers on port 0: it routes over the first
// N URLs it was given, and the factory picks it by the spec's shape.

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProvider, ProcessProvider, UpstreamsProvider } from '../../../router/providers/index.js';
import type { DeploymentProvider } from '../../../router/providers/index.js';

const servers: Server[] = [];
const providers: DeploymentProvider[] = [];
let urls: string[] = [];
let logDir = '';

beforeEach(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'saferoll-upstreams-'));
  urls = [];
  for (let i = 0; i < 3; i += 1) {
    const server = createServer((_req, res) => res.end(`server ${i}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const address = server.address();
    urls.push(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`);
  }
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.stop()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(logDir, { recursive: true, force: true });
});

function upstreams(list: string[]): UpstreamsProvider {
  const provider = new UpstreamsProvider(list);
  providers.push(provider);
  return provider;
}

describe('UpstreamsProvider', () => {
  it('routes over the first N URLs, ready at once', async () => {
    const provider = upstreams(urls);
    await provider.scale(2);
    expect(provider.readyUrls()).toEqual(urls.slice(0, 2));
    expect(provider.instances().map((inst) => [inst.id, inst.state, inst.healthy])).toEqual([
      ['0', 'ready', true],
      ['1', 'ready', true],
    ]);
    for (const [i, url] of provider.readyUrls().entries()) {
      const res = await request(url);
      expect(await res.body.text()).toBe(`server ${i}`);
    }
  });

  it('tells listeners when the set changes, and only then', async () => {
    const provider = upstreams(urls);
    let changes = 0;
    provider.onChange(() => (changes += 1));
    await provider.scale(3);
    await provider.scale(3);
    await provider.scale(1);
    expect(changes).toBe(2);
    expect(provider.readyUrls()).toEqual([urls[0]]);
  });

  it('refuses an instance count outside 1..number of URLs, naming the field', async () => {
    const provider = upstreams(urls);
    for (const count of [0, 4, 1.5]) {
      await expect(provider.scale(count)).rejects.toMatchObject({ code: 'SAFEROLL_E_VALIDATION', field: 'instanceCount' });
    }
    expect(provider.readyUrls()).toEqual([]);
  });

  it('refuses a URL that is not http(s), naming its index', () => {
    expect(() => new UpstreamsProvider([urls[0] ?? '', 'ftp://example.com'])).toThrow(
      expect.objectContaining({ code: 'SAFEROLL_E_VALIDATION', field: 'upstreams.1' }),
    );
    expect(() => new UpstreamsProvider([])).toThrow(expect.objectContaining({ field: 'upstreams' }));
  });

  it('has no logs or records, drops a trailing slash, and stops routing when stopped', async () => {
    const provider = upstreams([`${urls[0]}/`]);
    await provider.scale(1);
    expect(provider.readyUrls()).toEqual([urls[0]]);
    expect(await provider.logs(10)).toEqual([]);
    expect(provider.records()).toEqual([]);
    await provider.stop();
    expect(provider.readyUrls()).toEqual([]);
    expect(provider.instances()[0]?.state).toBe('stopped');
    // The server itself is not ours and still answers.
    expect((await request(urls[0] ?? '')).statusCode).toBe(200);
  });
});

describe('createProvider', () => {
  it('picks the provider by the shape of the spec', () => {
    const options = { deploymentKey: 'ep/blue', logDir, launch: { isolation: { mode: 'none' as const }, marker: 'test' } };
    const byUrls = createProvider({ upstreams: urls }, options);
    const byCommand = createProvider({ process: { command: process.execPath, args: [], env: {}, readinessPath: '/healthz' } }, options);
    providers.push(byUrls, byCommand);
    expect(byUrls).toBeInstanceOf(UpstreamsProvider);
    expect(byUrls.kind).toBe('upstreams');
    expect(byCommand).toBeInstanceOf(ProcessProvider);
    expect(byCommand.kind).toBe('process');
  });
});
