// One Envoy process of the fleet: started from a bootstrap file, its output
// kept (the last lines, for an error), ready once its admin interface says
// LIVE (which Envoy says only after its first config arrived), stopped with
// SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { SaferollError } from '../../shared/errors.js';

const KEPT_LINES = 20;
const STOP_GRACE_MS = 5_000;

export interface EnvoyProcessOptions {
  binary: string;
  bootstrapFile: string;
  bootstrap: Record<string, unknown>;
  adminAddressFile: string;
  concurrency?: number | undefined;
  readyTimeoutMs: number;
}

export class EnvoyProcess {
  private readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  adminUrl = '';

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      child.once('error', (err) => {
        this.keep(err.message);
        this.exitCode = -1;
        resolve(-1);
      });
    });
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.keep(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  lastLines(): string[] {
    return [...this.lines];
  }

  private keep(line: string): void {
    this.lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
  }

  /** Starts Envoy and resolves once it serves with its first config; rejects (and leaves nothing running) when it cannot. */
  static async start(options: EnvoyProcessOptions): Promise<EnvoyProcess> {
    await writeFile(options.bootstrapFile, JSON.stringify(options.bootstrap, null, 1), { mode: 0o600 });
    await rm(options.adminAddressFile, { force: true });
    const args = ['-c', options.bootstrapFile, '--disable-hot-restart', '--log-level', 'warn', '--admin-address-path', options.adminAddressFile];
    if (options.concurrency !== undefined) args.push('--concurrency', String(options.concurrency));
    const child = spawn(options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const envoy = new EnvoyProcess(child);
    try {
      await envoy.waitReady(options.adminAddressFile, options.readyTimeoutMs);
    } catch (err) {
      await envoy.stop();
      throw err;
    }
    return envoy;
  }

  private async waitReady(adminAddressFile: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw this.startError(`exited at start (code ${this.exitCode})`);
      if (this.adminUrl === '') {
        const address = await readFile(adminAddressFile, 'utf8').catch(() => '');
        if (address.trim() !== '') this.adminUrl = `http://${address.trim()}`;
      }
      if (this.adminUrl !== '' && (await isLive(this.adminUrl))) return;
      await sleep(50);
    }
    throw this.startError(`was not ready within ${timeoutMs} ms (has it reached the routing core's xDS server?)`);
  }

  private startError(what: string): SaferollError {
    const tail = this.lastLines().slice(-5).join(' | ');
    return new SaferollError('SAFEROLL_E_DATA_PLANE', `Envoy (pid ${this.pid ?? '?'}) ${what}${tail ? `; its last output: ${tail}` : ''}`);
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once it is gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

async function isLive(adminUrl: string): Promise<boolean> {
  try {
    const answer = await request(`${adminUrl}/ready`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    const body = await answer.body.text();
    return answer.statusCode === 200 && body.trim() === 'LIVE';
  } catch {
    return false;
  }
}
