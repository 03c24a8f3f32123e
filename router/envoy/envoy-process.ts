// One Envoy process of the fleet: started from a bootstrap file, or adopted
// after a restart of the routing core (a kill -9 leaves its Envoys serving;
// the next router takes them back instead of starting others). Its output
// goes to a log file (so it outlives the router that started it); ready once
// its admin interface says LIVE, which Envoy says only after its first
// config arrived; stopped with SIGTERM, then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { SaferollError } from '../../shared/errors.js';
import { isRunning, startTimeOf, tailLines } from '../providers/os-process.js';
import { OWNER_MARKER_ENV, ownershipOf } from '../providers/process-ownership.js';

const STOP_GRACE_MS = 5_000;
const WATCH_MS = 250;

export interface EnvoyProcessOptions {
  binary: string;
  bootstrapFile: string;
  bootstrapText: string;
  adminAddressFile: string;
  logFile: string;
  /** The owner marker of the router's state dir, in the Envoy's environment: what proves it ours on adoption. */
  marker: string;
  concurrency?: number | undefined;
  readyTimeoutMs: number;
}

/** What a restarted router needs to take an Envoy back. */
export interface EnvoyRecord {
  pid: number;
  startTime: number;
  adminUrl: string;
  logFile: string;
}

export class EnvoyProcess {
  readonly exited: Promise<string>;
  private gone = false;
  adminUrl = '';

  private constructor(
    readonly pid: number,
    readonly logFile: string,
    readonly startTime: number | undefined,
    child: ChildProcess | undefined,
    readonly adopted: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      const done = (how: string): void => {
        this.gone = true;
        resolve(how);
      };
      if (child) {
        child.once('exit', (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
        return;
      }
      // Not our child: watched by polling.
      const timer = setInterval(() => {
        if (isRunning(pid)) return;
        clearInterval(timer);
        done('exited');
      }, WATCH_MS);
      timer.unref();
    });
  }

  get running(): boolean {
    return !this.gone;
  }

  record(): EnvoyRecord | undefined {
    return this.startTime === undefined ? undefined : { pid: this.pid, startTime: this.startTime, adminUrl: this.adminUrl, logFile: this.logFile };
  }

  /** The last lines of its output. */
  lastLines(count = 20): Promise<string[]> {
    return tailLines(this.logFile, count).catch(() => []);
  }

  /** Starts Envoy and resolves once it serves with its first config; rejects (and leaves nothing running) when it cannot. */
  static async start(options: EnvoyProcessOptions): Promise<EnvoyProcess> {
    await writeFile(options.bootstrapFile, options.bootstrapText, { mode: 0o600 });
    await rm(options.adminAddressFile, { force: true });
    const args = ['-c', options.bootstrapFile, '--disable-hot-restart', '--log-level', 'warn', '--admin-address-path', options.adminAddressFile];
    if (options.concurrency !== undefined) args.push('--concurrency', String(options.concurrency));
    const log = openSync(options.logFile, 'w', 0o600);
    let child: ChildProcess;
    try {
      // Its own process group: a signal meant for the router (Ctrl-C) is the router's to pass on.
      child = spawn(options.binary, args, { stdio: ['ignore', log, log], detached: true, env: { ...process.env, [OWNER_MARKER_ENV]: options.marker } });
    } finally {
      closeSync(log);
    }
    const spawned = await new Promise<number | Error>((resolve) => {
      child.once('spawn', () => resolve(child.pid ?? new Error('no pid')));
      child.once('error', (err) => resolve(err));
    });
    if (spawned instanceof Error) throw new SaferollError('SAFEROLL_E_DATA_PLANE', `Envoy ${options.binary} did not start: ${spawned.message}`);
    const envoy = new EnvoyProcess(spawned, options.logFile, startTimeOf(spawned), child, false);
    try {
      await envoy.waitReady(options.adminAddressFile, options.readyTimeoutMs);
    } catch (err) {
      await envoy.stop();
      throw err;
    }
    return envoy;
  }

  /**
   * Takes back an Envoy a previous run of the router started, if it is
   * provably ours (pid, start time, owner marker), runs the bootstrap this
   * router would give it, and serves. Otherwise undefined, and an Envoy of
   * ours that cannot be adopted is stopped.
   */
  static async adopt(record: EnvoyRecord, marker: string, sameBootstrap: boolean): Promise<EnvoyProcess | undefined> {
    if (!ownershipOf(record.pid, record.startTime, marker).ours) return undefined;
    const envoy = new EnvoyProcess(record.pid, record.logFile, record.startTime, undefined, true);
    envoy.adminUrl = record.adminUrl;
    if (sameBootstrap && (await isLive(record.adminUrl))) return envoy;
    await envoy.stop();
    return undefined;
  }

  private async waitReady(adminAddressFile: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw await this.startError(`exited at start (${await this.exited})`);
      if (this.adminUrl === '') {
        const address = await readFile(adminAddressFile, 'utf8').catch(() => '');
        if (address.trim() !== '') this.adminUrl = `http://${address.trim()}`;
      }
      if (this.adminUrl !== '' && (await isLive(this.adminUrl))) return;
      await sleep(50);
    }
    throw await this.startError(`was not ready within ${timeoutMs} ms (has it reached the routing core's xDS server?)`);
  }

  private async startError(what: string): Promise<SaferollError> {
    const tail = (await this.lastLines(5)).join(' | ');
    return new SaferollError('SAFEROLL_E_DATA_PLANE', `Envoy (pid ${this.pid}) ${what}${tail ? `; its last output: ${tail}` : ''}`);
  }

  /**
   * Stops taking connections and waits (at most `timeoutMs`) until no request
   * is in flight, as the built-in plane drains on SIGTERM; then stop() cuts
   * only idle connections.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (!this.running || this.adminUrl === '') return;
    try {
      await (await request(`${this.adminUrl}/drain_listeners`, { method: 'POST', headersTimeout: 2_000, bodyTimeout: 2_000 })).body.dump();
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && this.running) {
        const answer = await request(`${this.adminUrl}/stats?filter=${encodeURIComponent('^http\\.saferoll_data\\.downstream_rq_active$')}`, {
          headersTimeout: 2_000,
          bodyTimeout: 2_000,
        });
        const text = await answer.body.text();
        if (/: 0\s*$/.test(text.trim()) || !text.includes(':')) return;
        await sleep(25);
      }
    } catch {
      // Its admin interface is gone: nothing more to wait for.
    }
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once it is gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const signal = (name: NodeJS.Signals): void => {
      try {
        process.kill(this.pid, name);
      } catch {
        // Already gone.
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), STOP_GRACE_MS);
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
