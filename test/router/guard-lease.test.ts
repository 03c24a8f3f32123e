// The guard lease as a controller and an operator use it over the admin API:
// taken, renewed, released; a lapse puts blue back to 100% with mirroring off,
// is shown on GET and counted in /metrics, and stays fired until released; a
// router killed while holding one fires or re-arms it when it comes back.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createGuardActivities } from '../../activities/guard.js';
import { AdminClient } from '../../router/client.js';
import type { EndpointView } from '../../router/views.js';
import { SaferollError } from '../../shared/errors.js';
import { spawnRouter, stopCli } from '../support/cli.js';
import { TEST_ADMIN_TOKEN, callDataPlane, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
const upstreams: TestUpstream[] = [];
const agent = new Agent();
const cleanups: (() => Promise<unknown> | void)[] = [];

async function patch(endpoint: string, body: unknown) {
  const answer = await request(`${t.router.adminUrl}/v1/endpoints/${endpoint}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await answer.body.json()) as EndpointView & { error?: { code: string; message: string; field?: string } };
  return { status: answer.statusCode, json };
}

async function rejection(promise: Promise<unknown>): Promise<SaferollError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SaferollError);
  return err as SaferollError;
}

/** An endpoint with blue, green and spare (upstream deployments, Succeeded) and blue at 100%. */
async function endpointWithBlue(admin: AdminClient, name: string): Promise<string> {
  await admin.putEndpoint(name, { authMode: 'key' });
  for (const d of ['blue', 'green', 'spare']) {
    const upstream = await startUpstream(d);
    upstreams.push(upstream);
    await admin.putDeployment(name, d, { instanceCount: 1, upstreams: [upstream.url] });
  }
  await waitFor(async () => (await admin.listDeployments(name)).every((d) => d.provisioningState === 'Succeeded'), 10_000, 'deployments ready');
  await admin.setTraffic(name, { blue: 100 });
  return (await admin.getKeys(name)).primaryKey;
}

function firedCount(metrics: string, endpoint: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`saferoll_guard_fired_total{endpoint="${endpoint}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

beforeAll(async () => {
  t = await startTestRouter();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await t.close();
  await agent.close();
  for (const u of upstreams) await u.close();
});

describe('guard lease', () => {
  it('is taken with a route change, renewed from now on each renewal, shown on GET, and released', async () => {
    await endpointWithBlue(t.admin, 'lease-basic');
    const taken = await t.admin.patchEndpoint('lease-basic', { traffic: { blue: 90, green: 10 }, mirrorTraffic: {}, guard: { ttl: '60s', fallback: 'blue' } });
    expect(taken.traffic).toEqual({ blue: 90, green: 10 });
    expect(taken.guard).toMatchObject({ state: 'held', fallback: 'blue', ttl: '1m' });
    const firstExpiry = Date.parse((taken.guard as { expiresAt: string }).expiresAt);
    expect(firstExpiry).toBeGreaterThan(Date.now());

    // Absolute: a renewal a little later expires a little later, whatever the earlier expiry.
    await waitFor(() => Date.now() > firstExpiry - 60_000 + 20, 1_000, 'time moves on');
    const renewed = await t.admin.patchEndpoint('lease-basic', { guard: { ttl: '60s', fallback: 'blue' } });
    expect(Date.parse((renewed.guard as { expiresAt: string }).expiresAt)).toBeGreaterThan(firstExpiry);
    expect(renewed.traffic).toEqual({ blue: 90, green: 10 });
    expect((await t.admin.getEndpoint('lease-basic')).guard).toEqual(renewed.guard);

    // An operator may still change traffic while a lease is held.
    expect((await t.admin.setTraffic('lease-basic', { blue: 80, green: 20 })).guard).toEqual(renewed.guard);

    const released = await t.admin.patchEndpoint('lease-basic', { guard: null });
    expect(released.guard).toBeUndefined();
    expect((await t.admin.getEndpoint('lease-basic')).guard).toBeUndefined();
    // Releasing nothing is a no-op, so a retried release is harmless.
    expect((await patch('lease-basic', { guard: null })).status).toBe(200);
  });

  it('lapses: blue 100%, mirror off, shown on GET, counted in /metrics, and sticky until released', async () => {
    const key = await endpointWithBlue(t.admin, 'lease-lapse');
    await t.admin.patchEndpoint('lease-lapse', { traffic: { blue: 90, green: 10 }, mirrorTraffic: { spare: 20 }, guard: { ttl: '1s', fallback: 'blue' } });
    const before = firedCount(await t.admin.metricsText(), 'lease-lapse');

    const fired = await waitFor(
      async () => {
        const view = await t.admin.getEndpoint('lease-lapse');
        return view.guard?.state === 'fired' ? view : undefined;
      },
      15_000,
      'the lease fires',
    );
    expect(fired.traffic).toEqual({ blue: 100 });
    expect(fired.mirrorTraffic).toEqual({});
    expect(fired.guard).toMatchObject({
      state: 'fired',
      fallback: 'blue',
      reason: expect.stringMatching(/^no renewal for 1s .*put "blue" back to 100% and turned mirroring off/),
    });
    expect(Date.parse((fired.guard as { firedAt: string }).firedAt)).not.toBeNaN();
    expect(firedCount(await t.admin.metricsText(), 'lease-lapse')).toBe(before + 1);
    for (let i = 0; i < 20; i++) expect((await callDataPlane(t.router.dataUrl, agent, 'lease-lapse', { key })).deployment).toBe('blue');

    // A renewal, alone or with a route change, is refused with its own code and changes nothing.
    const renewal = await patch('lease-lapse', { guard: { ttl: '1s', fallback: 'blue' } });
    expect(renewal.status).toBe(409);
    expect(renewal.json.error).toMatchObject({ code: 'SAFEROLL_E_GUARD_FIRED', field: 'guard' });
    expect(renewal.json.error?.message).toMatch(/lapsed at .* put "blue" back to 100%/);
    const withRoutes = await patch('lease-lapse', { traffic: { green: 100 }, mirrorTraffic: {}, guard: { ttl: '60s', fallback: 'blue' } });
    expect(withRoutes.json.error?.code).toBe('SAFEROLL_E_GUARD_FIRED');
    expect(await t.admin.getEndpoint('lease-lapse')).toEqual(fired);

    // An operator's plain traffic change is still allowed; the fired record stays.
    expect((await t.admin.setTraffic('lease-lapse', { blue: 50, green: 50 })).guard?.state).toBe('fired');
    expect((await t.admin.patchEndpoint('lease-lapse', { guard: null })).guard).toBeUndefined();
    expect((await t.admin.patchEndpoint('lease-lapse', { guard: { ttl: '60s', fallback: 'blue' } })).guard?.state).toBe('held');
    await t.admin.patchEndpoint('lease-lapse', { guard: null });
  });

  it("the holder's one-call release: clears a held lease, succeeds when retried, and is refused (409) once the lease lapsed, which it leaves in place", async () => {
    await endpointWithBlue(t.admin, 'lease-release');
    await t.admin.patchEndpoint('lease-release', { traffic: { blue: 90, green: 10 }, mirrorTraffic: {}, guard: { ttl: '60s', fallback: 'blue' } });
    expect((await t.admin.patchEndpoint('lease-release', { guard: { release: true } })).guard).toBeUndefined();
    expect((await patch('lease-release', { guard: { release: true } })).status).toBe(200);

    await t.admin.patchEndpoint('lease-release', { traffic: { blue: 90, green: 10 }, mirrorTraffic: {}, guard: { ttl: '1s', fallback: 'blue' } });
    const fired = await waitFor(
      async () => {
        const view = await t.admin.getEndpoint('lease-release');
        return view.guard?.state === 'fired' ? view : undefined;
      },
      15_000,
      'the lease fires',
    );
    const refused = await patch('lease-release', { guard: { release: true } });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'SAFEROLL_E_GUARD_FIRED', field: 'guard' });
    expect(await t.admin.getEndpoint('lease-release')).toEqual(fired);

    // The activity the workflow releases with: the lapse comes back as the controller-lost failure, not erased.
    const failure = await createGuardActivities(t.admin)
      .releaseGuard('lease-release')
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'SAFEROLL_E_GUARD_FIRED',
      nonRetryable: true,
      message: expect.stringMatching(/^controller lost: the routing core's guard lease lapsed at .* put "blue" back to 100%/),
    });
    expect((await t.admin.getEndpoint('lease-release')).guard?.state).toBe('fired');
    await t.admin.patchEndpoint('lease-release', { guard: null });
  });

  it('keeps the fallback of a held lease from being deleted; the endpoint can still be deleted', async () => {
    await endpointWithBlue(t.admin, 'lease-delete');
    await t.admin.patchEndpoint('lease-delete', { traffic: { green: 100 }, guard: { ttl: '60s', fallback: 'blue' } });
    const refused = await rejection(t.admin.deleteDeployment('lease-delete', 'blue'));
    expect(refused.code).toBe('SAFEROLL_E_CONFLICT');
    expect(refused.message).toMatch(/fallback of the endpoint's guard lease/);
    expect((await t.admin.listDeployments('lease-delete')).map((d) => d.name)).toContain('blue');

    // Deleting the whole endpoint takes the lease with it.
    await t.admin.deleteEndpoint('lease-delete');
    expect((await rejection(t.admin.getEndpoint('lease-delete'))).code).toBe('SAFEROLL_E_NOT_FOUND');
  });

  const bad: { name: string; guard: unknown; field: string; message: RegExp }[] = [
    { name: 'a missing ttl', guard: { fallback: 'blue' }, field: 'guard.ttl', message: /required|expected string/ },
    { name: 'a ttl without a unit', guard: { ttl: '60', fallback: 'blue' }, field: 'guard.ttl', message: /no unit/ },
    { name: 'a ttl as a number', guard: { ttl: 60, fallback: 'blue' }, field: 'guard.ttl', message: /string/ },
    { name: 'a ttl under 1s', guard: { ttl: '500ms', fallback: 'blue' }, field: 'guard.ttl', message: /from 1s to 24h/ },
    { name: 'a ttl over 24h', guard: { ttl: '25h', fallback: 'blue' }, field: 'guard.ttl', message: /from 1s to 24h/ },
    { name: 'a missing fallback', guard: { ttl: '60s' }, field: 'guard.fallback', message: /./ },
    { name: 'a fallback that does not exist', guard: { ttl: '60s', fallback: 'ghost' }, field: 'guard.fallback', message: /"ghost" does not exist/ },
    { name: 'an unknown field', guard: { ttl: '60s', fallback: 'blue', holder: 'me' }, field: 'guard.holder', message: /unknown field/ },
    { name: 'a guard that is not a map', guard: '60s', field: 'guard', message: /./ },
    { name: 'a release with a ttl', guard: { release: true, ttl: '60s' }, field: 'guard.ttl', message: /not with release/ },
    { name: 'a release that is not true', guard: { release: false }, field: 'guard.release', message: /./ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with 400 naming ${c.field}, and changes nothing`, async () => {
      if (!(await t.admin.listEndpoints()).some((e) => e.name === 'lease-bad')) await endpointWithBlue(t.admin, 'lease-bad');
      const before = await t.admin.getEndpoint('lease-bad');
      const answer = await patch('lease-bad', { traffic: { blue: 90, green: 10 }, guard: c.guard });
      expect(answer.status).toBe(400);
      expect(answer.json.error?.field).toBe(c.field);
      expect(answer.json.error?.message).toMatch(c.message);
      expect(await t.admin.getEndpoint('lease-bad')).toEqual(before);
    });
  }

  it('refuses a fallback that is not Succeeded', async () => {
    await endpointWithBlue(t.admin, 'lease-failed');
    await t.admin.putDeployment('lease-failed', 'broken', { instanceCount: 1, process: { command: 'false', args: [], env: {}, readinessPath: '/healthz' } });
    await waitFor(async () => (await t.admin.getDeployment('lease-failed', 'broken')).provisioningState === 'Failed', 20_000, 'broken failed');
    const answer = await patch('lease-failed', { guard: { ttl: '60s', fallback: 'broken' } });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ field: 'guard.fallback', message: expect.stringMatching(/is Failed; the fallback must be Succeeded/) });
    expect((await t.admin.getEndpoint('lease-failed')).guard).toBeUndefined();
  });
});

describe('guard lease across a router restart (kill -9)', () => {
  async function spawned(stateDir: string) {
    const router = await spawnRouter(stateDir, { SAFEROLL_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const admin = new AdminClient({ adminUrl: router.adminUrl, token: TEST_ADMIN_TOKEN });
    cleanups.push(async () => {
      await admin.close();
      await stopCli(router);
    });
    return { router, admin };
  }

  async function killed(r: Awaited<ReturnType<typeof spawned>>): Promise<void> {
    r.router.child.kill('SIGKILL');
    await r.router.exited;
  }

  it('fires a lease that expired while the router was down before serving a request', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-guard-'));
    const first = await spawned(stateDir);
    const key = await endpointWithBlue(first.admin, 'down-lapse');
    const taken = await first.admin.patchEndpoint('down-lapse', { traffic: { green: 100 }, mirrorTraffic: {}, guard: { ttl: '1s', fallback: 'blue' } });
    await killed(first);
    const expiry = Date.parse((taken.guard as { expiresAt: string }).expiresAt);
    await waitFor(() => Date.now() > expiry + 50, 5_000, 'the lease expired while the router is down');

    const second = await spawned(stateDir);
    // The very first request after start-up goes to blue: the lease fired during recovery.
    expect((await callDataPlane(second.router.dataUrl, agent, 'down-lapse', { key })).deployment).toBe('blue');
    const view = await second.admin.getEndpoint('down-lapse');
    expect(view.traffic).toEqual({ blue: 100 });
    expect(view.guard).toMatchObject({ state: 'fired', fallback: 'blue' });
    expect(firedCount(await second.admin.metricsText(), 'down-lapse')).toBe(1);
    expect(second.router.output()).toMatch(/guard lease of endpoint "down-lapse" lapsed: no renewal for 1s/);
  });

  it('re-arms a lease still live at start-up, which then lapses on time', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-guard-'));
    const first = await spawned(stateDir);
    const key = await endpointWithBlue(first.admin, 'down-live');
    const taken = await first.admin.patchEndpoint('down-live', { traffic: { blue: 90, green: 10 }, mirrorTraffic: {}, guard: { ttl: '8s', fallback: 'blue' } });
    await killed(first);

    const second = await spawned(stateDir);
    const view = await second.admin.getEndpoint('down-live');
    expect(view.guard).toEqual(taken.guard);
    expect(view.traffic).toEqual({ blue: 90, green: 10 });
    const fired = await waitFor(
      async () => {
        const v = await second.admin.getEndpoint('down-live');
        return v.guard?.state === 'fired' ? v : undefined;
      },
      20_000,
      'the re-armed lease fires',
    );
    expect(fired.traffic).toEqual({ blue: 100 });
    expect((await callDataPlane(second.router.dataUrl, agent, 'down-live', { key })).deployment).toBe('blue');
  });
});
