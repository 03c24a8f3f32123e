// The Prometheus configuration `saferoll dev --prometheus` writes, checked by
// Prometheus's own promtool; the token only for the router's job; a clear
// error when Prometheus is missing; bad --metrics-path and --prometheus-port
// refused before anything is contacted.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkPrometheusInstalled, prometheusArgs, writePrometheusFiles } from '../../cli/prometheus-config.js';
import { runCli } from '../support/cli.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-prometheus-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ScrapeConfig {
  job_name: string;
  authorization?: { credentials_file: string };
  http_sd_configs: { url: string; refresh_interval: string; authorization: { credentials_file: string } }[];
  relabel_configs: { source_labels?: string[]; regex: string; action: string }[];
}

describe('the generated Prometheus configuration', () => {
  it('passes promtool, scrapes every second, discovers every 2 s with the token from a 0600 file, and sends the token only to the router', async () => {
    const files = await writePrometheusFiles(path.join(dir, 'prometheus'), 'http://127.0.0.1:8081/', 's3cret');
    const { stdout } = await promisify(execFile)('/usr/bin/promtool', ['check', 'config', files.configFile]);
    expect(stdout).toContain('SUCCESS');
    const tokenFile = path.join(dir, 'prometheus', 'admin-token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);

    const text = await readFile(files.configFile, 'utf8');
    expect(text).not.toContain('s3cret');
    const config = parse(text) as { global: Record<string, string>; scrape_configs: ScrapeConfig[] };
    expect(config.global.scrape_interval).toBe('1s');
    const [router, instances] = config.scrape_configs;
    for (const job of [router, instances]) {
      expect(job?.http_sd_configs).toEqual([
        { url: 'http://127.0.0.1:8081/v1/prometheus/targets', refresh_interval: '2s', authorization: { type: 'Bearer', credentials_file: tokenFile } },
      ]);
    }
    expect(router?.authorization?.credentials_file).toBe(tokenFile);
    expect(router?.relabel_configs[0]).toEqual({ source_labels: ['saferoll_role'], regex: 'router', action: 'keep' });
    expect(instances?.authorization).toBeUndefined();
    expect(instances?.relabel_configs[0]).toEqual({ source_labels: ['saferoll_role'], regex: 'instance', action: 'keep' });
    expect(prometheusArgs(files, 9090)).toContain('--web.listen-address=127.0.0.1:9090');
  });

  it('names the install script when the binary is missing', async () => {
    await expect(checkPrometheusInstalled(path.join(dir, 'no-prometheus'))).rejects.toThrow(/is missing: install it with scripts\/install-prometheus\.sh/);
  });
});

describe('flags', () => {
  it('refuses a --metrics-path that is not a path, and --prometheus-port without --prometheus (exit 2)', async () => {
    const bad = await runCli(['deployment', 'create', 'shop', 'green', '--upstream', 'http://127.0.0.1:1', '--metrics-path', 'metrics']);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('--metrics-path must be a path starting with /');
    const port = await runCli(['dev', '--prometheus-port', '9999']);
    expect(port.code).toBe(2);
    expect(port.output).toContain('--prometheus-port goes with --prometheus');
  });
});
