// Shadow comparison in the built-in data plane, over real sockets: a mirrored
// request's green answer is paired with the answer blue gave the client,
// judged off the client's path, booked in /metrics and kept as evidence.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../analysis/prometheus-text.js';
import type { EndpointPatchBody } from '../../router/schemas.js';
import type { ShadowCompareSpec } from '../../shared/shadow-compare.js';
import { SaferollError } from '../../shared/errors.js';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream, type UpstreamBehaviour } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
const upstreams: TestUpstream[] = [];

beforeAll(async () => {
  t = await startTestRouter();
});

afterAll(async () => {
  await t.close();
  await Promise.all(upstreams.map((u) => u.close()));
});

const JSON_COMPARE: ShadowCompareSpec = {
  json: { ignore: ['$.model_version'], labels: ['$.label'], numeric: { tolerance: 0.01 } },
  distribution: { path: '$.score' },
};

/** Answers `{label, score, model_version}` where the score is the request's x times `factor`. */
function model(version: string, factor = 0.1, extra: Partial<UpstreamBehaviour> = {}): UpstreamBehaviour {
  return {
    body: (request) => {
      const x = (JSON.parse(request || '{"x":0}') as { x: number }).x;
      return JSON.stringify({ label: x % 2 === 0 ? 'even' : 'odd', score: Math.round(x * factor * 1000) / 1000, model_version: version });
    },
    ...extra,
  };
}

interface Setup {
  endpoint: string;
  key: string;
  blue: TestUpstream;
  green: TestUpstream;
}

async function setup(
  endpoint: string,
  blueBehaviour: UpstreamBehaviour,
  greenBehaviour: UpstreamBehaviour,
  compare: ShadowCompareSpec | null,
  router = t,
): Promise<Setup> {
  const blue = await startUpstream('blue', blueBehaviour);
  const green = await startUpstream('green', greenBehaviour);
  upstreams.push(blue, green);
  await router.admin.putEndpoint(endpoint, { authMode: 'key' });
  await router.admin.putDeployment(endpoint, 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await router.admin.putDeployment(endpoint, 'green', { instanceCount: 1, upstreams: [green.url] });
  await waitFor(async () => (await router.admin.getDeployment(endpoint, 'green')).provisioningState === 'Succeeded');
  await waitFor(async () => (await router.admin.getDeployment(endpoint, 'blue')).provisioningState === 'Succeeded');
  await router.admin.patchEndpoint(endpoint, { traffic: { blue: 100 }, mirrorTraffic: { green: 50 }, mirrorCompare: compare });
  return { endpoint, key: (await router.admin.getKeys(endpoint)).primaryKey, blue, green };
}

/** Sends `n` requests one after another ({"x": i}); every client answer must be blue's. */
async function send(s: Setup, n: number, router = t): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await router.call(s.endpoint, { key: s.key, body: JSON.stringify({ x: i }) });
    expect(r.deployment).toBe('blue');
    bodies.push(r.body);
  }
  return bodies;
}

type Pairs = { match: number; mismatch: number; shed: number; error: number };

/** The pairs once every mirrored request (each one hit green) has been booked. */
async function settledPairs(s: Setup, router = t): Promise<Pairs> {
  return waitFor(
    async () => {
      const { pairs } = await router.admin.shadowDiffs(s.endpoint, 'green');
      const total = pairs.match + pairs.mismatch + pairs.shed + pairs.error;
      return total > 0 && total === s.green.hits ? pairs : undefined;
    },
    10_000,
    'every mirrored request paired',
  );
}

async function endpointSeries(endpoint: string, prefix: string): Promise<ReturnType<typeof parsePrometheusText>> {
  const text = await (await fetch(`${t.router.adminUrl}/metrics?endpoint=${endpoint}`, { headers: { authorization: 'Bearer test-admin-token' } })).text();
  return parsePrometheusText(text, prefix);
}

describe('shadow comparison in the data plane', () => {
  it('matches identical answers, and the client gets blue answer unchanged', async () => {
    const s = await setup('shadow-same', model('v1'), model('v1'), JSON_COMPARE);
    const bodies = await send(s, 20);
    expect(JSON.parse(bodies[3] as string)).toEqual({ label: 'odd', score: 0.3, model_version: 'v1' });
    const pairs = await settledPairs(s);
    expect(pairs).toEqual({ match: s.green.hits, mismatch: 0, shed: 0, error: 0 });
    expect(pairs.match).toBeGreaterThanOrEqual(5);
    expect((await t.admin.shadowDiffs(s.endpoint, 'green')).diffs).toEqual([]);
    // The per-endpoint view a gate reads carries the pairs and both sides' scores.
    const series = await endpointSeries(s.endpoint, 'saferoll_shadow_');
    expect(series).toContainEqual({
      name: 'saferoll_shadow_pairs_total',
      labels: { endpoint: s.endpoint, deployment: 'green', result: 'match' },
      value: pairs.match,
    });
    for (const side of ['blue', 'green'])
      expect(series).toContainEqual({ name: 'saferoll_shadow_score_count', labels: { endpoint: s.endpoint, deployment: 'green', side }, value: pairs.match });
    // And the whole /metrics, as Prometheus scrapes it.
    expect(parsePrometheusText(await t.admin.metricsText(), 'saferoll_shadow_pairs_total')).toContainEqual({
      name: 'saferoll_shadow_pairs_total',
      labels: { endpoint: s.endpoint, deployment: 'green', result: 'match' },
      value: pairs.match,
    });
  });

  it('ignores the ignored fields: a green that differs only in model_version matches', async () => {
    const s = await setup('shadow-ignore', model('v1'), model('v2'), JSON_COMPARE);
    await send(s, 10);
    expect(await settledPairs(s)).toEqual({ match: s.green.hits, mismatch: 0, shed: 0, error: 0 });
  });

  it('counts numeric drift beyond the tolerance as mismatches, keeps the pairs as evidence and books the difference', async () => {
    const s = await setup('shadow-drift', model('v1', 0.1), model('v1', 0.2), JSON_COMPARE);
    await send(s, 10);
    const pairs = await settledPairs(s);
    // x = 0 scores 0 on both sides: the one mirrored request that still matches.
    expect(pairs.mismatch).toBeGreaterThanOrEqual(4);
    expect(pairs).toEqual({ match: s.green.hits - pairs.mismatch, mismatch: pairs.mismatch, shed: 0, error: 0 });
    const { diffs } = await t.admin.shadowDiffs(s.endpoint, 'green');
    expect(diffs).toHaveLength(pairs.mismatch);
    const [newest] = diffs;
    expect(newest).toMatchObject({ method: 'POST', path: '/score', reason: expect.stringMatching(/^\$\.score: [\d.]+ vs [\d.]+ \(tolerance 0\.01\)$/) });
    const blue = JSON.parse(newest?.blue.body ?? '{}') as { score: number };
    const green = JSON.parse(newest?.green.body ?? '{}') as { score: number };
    expect(green.score).toBeCloseTo(blue.score * 2, 6);
    expect(newest?.blue).toMatchObject({ status: 200, truncated: false });
    const differences = await endpointSeries(s.endpoint, 'saferoll_shadow_numeric_difference_count');
    expect(differences).toEqual([
      { name: 'saferoll_shadow_numeric_difference_count', labels: { endpoint: s.endpoint, deployment: 'green' }, value: s.green.hits },
    ]);
  });

  it('counts answers that are not JSON as errors under the json comparator, never as matches', async () => {
    const text = { body: () => 'plain words', contentType: 'text/plain' };
    const s = await setup('shadow-text', text, text, JSON_COMPARE);
    await send(s, 10);
    expect(await settledPairs(s)).toEqual({ match: 0, mismatch: 0, shed: 0, error: s.green.hits });
  });

  it('never judges a pair whose blue answer failed (5xx): an error, not a mismatch', async () => {
    const s = await setup('shadow-blue-fails', model('v1', 0.1, { status: 503 }), model('v1', 0.5), JSON_COMPARE);
    await send(s, 10);
    expect(await settledPairs(s)).toEqual({ match: 0, mismatch: 0, shed: 0, error: s.green.hits });
    expect((await t.admin.shadowDiffs(s.endpoint, 'green')).diffs).toEqual([]);
  });

  it('sheds (and counts) pairs whose answers are over 64 KiB, never judging them; the client still gets the whole answer', async () => {
    const big = JSON.stringify({ label: 'even', score: 0.5, pad: 'x'.repeat(70 * 1024) });
    const s = await setup('shadow-big', { body: () => big }, { body: () => big.replace('0.5', '0.9') }, JSON_COMPARE);
    const bodies = await send(s, 10);
    expect(bodies[0]).toBe(big);
    expect(await settledPairs(s)).toEqual({ match: 0, mismatch: 0, shed: s.green.hits, error: 0 });
  });

  it('sends and books nothing of shadow comparison when none is configured', async () => {
    const s = await setup('shadow-off', model('v1', 0.1), model('v1', 0.9), null);
    await send(s, 10);
    await waitFor(async () => (await endpointSeries(s.endpoint, 'saferoll_requests_total')).some((x) => x.labels.traffic === 'mirror'));
    expect(await endpointSeries(s.endpoint, 'saferoll_shadow_')).toEqual([]);
    expect((await t.admin.shadowDiffs(s.endpoint, 'green')).pairs).toEqual({ match: 0, mismatch: 0, shed: 0, error: 0 });
  });
});

describe('shadow comparison off the client path', () => {
  it('answers the client while green is still held, judges the pair once green answers, and sheds pairs beyond the in-flight cap', async () => {
    const capped = await startTestRouter({ maxShadowPairsInFlight: 1 });
    try {
      let release = (): void => undefined;
      const hold = new Promise<void>((resolve) => (release = resolve));
      const s = await setup('shadow-held', model('v1'), model('v1', 0.1, { hold }), JSON_COMPARE, capped);
      // Every client answer arrives while green has answered nothing.
      const bodies = await send(s, 10, capped);
      expect(bodies).toHaveLength(10);
      await waitFor(async () => s.green.hits > 1 || (await capped.admin.shadowDiffs(s.endpoint, 'green')).pairs.shed > 0);
      const before = (await capped.admin.shadowDiffs(s.endpoint, 'green')).pairs;
      expect(before.match + before.mismatch + before.error).toBe(0);
      release();
      const pairs = await settledPairs(s, capped);
      // One pair held the only slot; every other mirrored request was shed, not judged.
      expect(pairs).toEqual({ match: 1, mismatch: 0, shed: s.green.hits - 1, error: 0 });
      expect(s.green.hits).toBeGreaterThanOrEqual(5);
    } finally {
      await capped.close();
    }
  });
});

describe('mirrorCompare on the admin API', () => {
  it.each<[string, unknown, string, RegExp]>([
    ['an invalid ignore path', { json: { ignore: ['score'] } }, 'mirrorCompare.json.ignore.0', /start with \$/],
    ['a negative tolerance', { json: { numeric: { tolerance: -1 } } }, 'mirrorCompare.json.numeric.tolerance', />= 0/],
    ['json with bytes', { json: {}, bytes: true }, 'mirrorCompare.bytes', /not both/],
    ['an empty spec', {}, 'mirrorCompare', /compares nothing/],
    ['an unknown key', { json: {}, fuzzy: true }, 'mirrorCompare.fuzzy', /unknown field/],
  ])('refuses %s with a 400 naming the field, and changes nothing', async (_name, mirrorCompare, field, message) => {
    await t.admin.putEndpoint('shadow-api', { authMode: 'key' });
    await t.admin.patchEndpoint('shadow-api', { mirrorCompare: { status: true } });
    const err = await t.admin.patchEndpoint('shadow-api', { mirrorCompare } as EndpointPatchBody).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SaferollError);
    expect((err as SaferollError).code).toBe('SAFEROLL_E_VALIDATION');
    expect((err as SaferollError).field).toBe(field);
    expect((err as SaferollError).message).toMatch(message);
    expect((await t.admin.getEndpoint('shadow-api')).mirrorCompare).toEqual({ status: true });
  });

  it('sets a spec absolutely (the same PATCH twice is one state), clears it with null, and keeps it across a restart', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'saferoll-shadow-'));
    try {
      const first = await startTestRouter({ stateDir });
      const s = await setup('shadow-kept', model('v1'), model('v1', 0.3), JSON_COMPARE, first);
      await first.admin.patchEndpoint(s.endpoint, { mirrorCompare: JSON_COMPARE });
      const expected = { json: { ignore: ['$.model_version'], labels: ['$.label'], numeric: { tolerance: 0.01 } }, distribution: { path: '$.score' } };
      expect((await first.admin.getEndpoint(s.endpoint)).mirrorCompare).toEqual(expected);
      await first.close();

      const second = await startTestRouter({ stateDir });
      try {
        expect((await second.admin.getEndpoint(s.endpoint)).mirrorCompare).toEqual(expected);
        await send(s, 10, second);
        const pairs = await settledPairs(s, second);
        expect(pairs.mismatch).toBeGreaterThanOrEqual(4);
        await second.admin.patchEndpoint(s.endpoint, { mirrorCompare: null });
        expect((await second.admin.getEndpoint(s.endpoint)).mirrorCompare).toBeUndefined();
        // Off: further mirrored requests are not paired.
        const hitsBefore = s.green.hits;
        await send(s, 10, second);
        await waitFor(() => s.green.hits > hitsBefore);
        expect((await second.admin.shadowDiffs(s.endpoint, 'green')).pairs).toEqual(pairs);
      } finally {
        await second.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('answers 404 for the diffs of a deployment that does not exist', async () => {
    await t.admin.putEndpoint('shadow-api', { authMode: 'key' });
    const err = await t.admin.shadowDiffs('shadow-api', 'nobody').catch((e: unknown) => e);
    expect((err as SaferollError).code).toBe('SAFEROLL_E_NOT_FOUND');
  });
});
