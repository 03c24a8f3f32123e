// A property test of the admin API over real HTTP against a real router on
// port 0: arbitrary and adversarial requests (odd and prototype names in the
// path, arbitrary JSON, wrong types, huge, negative and fractional numbers,
// unicode, prototype keys in every map). Whatever comes in, the answer is a
// 2xx, or a clean 4xx `{"error": {"code", "message", "field"}}` after which
// everything readable (every GET, and the state file on disk) is as before.
// Never a 5xx, never a hang; an accepted request names what its path named,
// stores what it sent, and writes nothing onto the language's own objects.
// A failure prints fast-check's seed and path; the runs share one router, so
// replay a seed by running this whole file with it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESERVED_KEYS } from '../../shared/reserved-keys.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

// Enough to reach every route with every kind of junk several times; about
// three seconds here, well under a minute on a busy 2-core machine. Raise
// it (SAFEROLL_PROPERTY_RUNS) for a deeper search.
const RUNS = Number(process.env.SAFEROLL_PROPERTY_RUNS ?? 400);
const REQUEST_TIMEOUT_MS = 10_000;

let t: TestRouter;
let upstream: TestUpstream;
const agent = new Agent({ headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });

// ---- what is sent ----------------------------------------------------------

type Method = 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';
interface AdminRequest {
  method: Method;
  path: string;
  body: string | undefined;
  token: string | undefined;
}

/** JSON text of an object built from entries, so that any key (even `__proto__`) is sent as written. */
const objectText = (entries: [string, string][]): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const entriesOf = (key: fc.Arbitrary<string>, value: fc.Arbitrary<string>, maxLength = 4) => fc.array(fc.tuple(key, value), { maxLength }).map(objectText);
/** An object with `fields` each present or not, plus maybe a stray (reserved or unknown) key. */
function someOf(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const stray = fc.option(fc.tuple(fc.oneof(fc.constantFrom(...RESERVED_KEYS), fc.string({ maxLength: 8 })), fc.json()), { freq: 4 });
  return fc
    .tuple(fc.record(fields, { requiredKeys: [] }), stray)
    .map(([present, extra]) => objectText([...(Object.entries(present) as [string, string][]), ...(extra ? [extra] : [])]));
}

const prototypeName = fc.constantFrom(...RESERVED_KEYS);
const oddName = fc.constantFrom(
  '',
  'a',
  'ab',
  'A-b',
  'x'.repeat(40),
  'név',
  '日本語',
  'a b',
  'a/b',
  'a.b',
  '..',
  '.',
  'null',
  '-1',
  'healthz',
  'metrics',
  'shop\u0000',
  'zero-width\u200b',
);
// A small pool, so that endpoints and deployments are revisited (and the router stays small).
const knownName = fc.constantFrom('shop', 'blue', 'green', 'spare', 'alpha', 'bravo', 'charlie');
const name = fc.oneof(
  { weight: 4, arbitrary: knownName },
  { weight: 2, arbitrary: prototypeName },
  { weight: 2, arbitrary: oddName },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const segment = fc.oneof(
  { weight: 6, arbitrary: name.map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%2e%2e', '%2E', '..', '.', '%00', '%2F', '%C0%AF') },
);

const number = fc.oneof(
  fc.integer({ min: -5, max: 120 }).map(String),
  fc.constantFrom(
    '0',
    '1',
    '10',
    '50',
    '51',
    '64',
    '65',
    '100',
    '1e400',
    '-1e400',
    '1e21',
    '-0',
    '0.5',
    '99.999',
    '1.0',
    '9007199254740993',
    '-1',
    '"10"',
    'null',
    'true',
    '[]',
    '{}',
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
);
const text = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
  fc.constant('"x"'),
  number,
);
const percentMap = fc.oneof({ weight: 5, arbitrary: entriesOf(name, number) }, { weight: 1, arbitrary: fc.json() });
const tags = fc.oneof({ weight: 3, arbitrary: entriesOf(fc.oneof(name, prototypeName), text) }, { weight: 1, arbitrary: fc.json() });
const upstreamUrl = (): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.constantFrom(
        upstream.url,
        `http://user:pass@${new URL(upstream.url).host}`,
        `http://token@${new URL(upstream.url).host}`,
        `${upstream.url}/path`,
        `${upstream.url}/?q=1`,
        `${upstream.url}/#fragment`,
        'ftp://127.0.0.1:9',
        'http://[::1',
        'http://127.0.0.1:99999',
        'javascript:alert(1)',
        '',
      ),
      fc.webUrl(),
    )
    .map((u) => JSON.stringify(u));
const envName = fc.oneof(prototypeName, fc.constantFrom('PATH', 'MODEL_VERSION', '1BAD', 'a-b', ''), fc.string({ maxLength: 6 }));
const notAString = fc.constantFrom('5', 'null', '[]', '{}', 'true', '""');
const processSpec = someOf({
  // Never a command that exists: a generated spec may well be valid, and its
  // one instance fails to spawn at once (so provisioning settles quickly).
  command: fc.oneof(
    fc.constant('"/nonexistent/saferoll-property-test"'),
    fc.string({ maxLength: 8 }).map((c) => JSON.stringify(`/nonexistent/${c}`)),
    notAString,
  ),
  args: fc.oneof(
    fc.array(text, { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
    text,
  ),
  env: fc.oneof(entriesOf(envName, text), text),
  readinessPath: fc.oneof(fc.constantFrom('"/healthz"', '"healthz"'), text),
});

const anyBody: fc.Arbitrary<string | undefined> = fc.oneof(fc.constant(undefined), fc.json(), fc.string({ maxLength: 30 }));
// Valid bodies too, so that state moves and refusals are judged against many states.
const endpointPut = fc.oneof(fc.constant('{"authMode":"key"}'), someOf({ authMode: fc.oneof(fc.constant('"key"'), text), description: text, tags }));
const endpointPatch = fc.oneof(
  fc.constantFrom(
    '{"traffic":{"blue":100}}',
    '{"traffic":{"blue":90,"green":10}}',
    '{"traffic":{"green":100},"mirrorTraffic":{"blue":50}}',
    '{"mirrorTraffic":{"spare":10}}',
    '{"mirrorTraffic":{}}',
  ),
  someOf({ traffic: percentMap, mirrorTraffic: percentMap, description: text, tags }),
);
const deploymentPut = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant(JSON.stringify({ instanceCount: 1, upstreams: [upstream.url] })),
    someOf({
      instanceCount: number,
      upstreams: fc.oneof(
        fc.array(upstreamUrl(), { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
        text,
      ),
    }),
    someOf({ instanceCount: fc.constantFrom('1', '0', '-1', '65', '1.5', '"1"', 'null', '1e400'), process: fc.oneof(processSpec, text) }),
  );
const deploymentPatch = someOf({ instanceCount: number });
const regenerate = someOf({ keyType: fc.oneof(fc.constantFrom('"primary"', '"secondary"'), text) });

/** A route's methods and the body it takes; each request mostly fits its route, sometimes not at all. */
function routed(paths: fc.Arbitrary<string>, methods: Method[], fitting: fc.Arbitrary<string | undefined> = anyBody): fc.Arbitrary<AdminRequest> {
  const token = fc.oneof(
    { weight: 12, arbitrary: fc.constant(TEST_ADMIN_TOKEN) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'wrong', `${TEST_ADMIN_TOKEN} `) },
  );
  return fc.record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...methods) },
      { weight: 1, arbitrary: fc.constantFrom<Method>('GET', 'PUT', 'PATCH', 'POST', 'DELETE') },
    ),
    path: paths,
    body: fc.oneof({ weight: 4, arbitrary: fitting }, { weight: 1, arbitrary: anyBody }),
    token,
  });
}

function adminRequest(): fc.Arbitrary<AdminRequest> {
  const e = segment;
  const d = segment;
  const deployment = fc.tuple(e, d).map(([x, y]) => `/v1/endpoints/${x}/deployments/${y}`);
  return fc.oneof(
    routed(fc.constant('/v1/endpoints'), ['GET']),
    routed(
      e.map((x) => `/v1/endpoints/${x}`),
      ['PUT'],
      endpointPut,
    ),
    routed(
      e.map((x) => `/v1/endpoints/${x}`),
      ['PATCH'],
      endpointPatch,
    ),
    routed(
      e.map((x) => `/v1/endpoints/${x}`),
      ['GET', 'DELETE'],
    ),
    routed(
      e.map((x) => `/v1/endpoints/${x}/keys`),
      ['POST'],
    ),
    routed(
      e.map((x) => `/v1/endpoints/${x}/keys/regenerate`),
      ['POST'],
      regenerate,
    ),
    routed(
      e.map((x) => `/v1/endpoints/${x}/deployments`),
      ['GET'],
    ),
    routed(deployment, ['PUT'], deploymentPut()),
    routed(deployment, ['PATCH'], deploymentPatch),
    routed(deployment, ['GET', 'DELETE']),
    routed(
      fc.tuple(e, d, number).map(([x, y, n]) => `/v1/endpoints/${x}/deployments/${y}/logs?lines=${encodeURIComponent(n)}`),
      ['GET'],
    ),
    routed(
      e.map((x) => `/metrics?endpoint=${x}`),
      ['GET'],
    ),
    routed(
      fc.oneof(
        fc.constantFrom('//', '/v1//endpoints', '/v1/endpoints/', '/v1/endpoints/shop/', '/%', '/v1/endpoints/shop/deployments/blue/', '/v2/endpoints'),
        fc.webPath().map((p) => p || '/'),
      ),
      ['GET', 'PUT'],
    ),
  );
}

// ---- what is checked ---------------------------------------------------------

async function send(r: AdminRequest): Promise<{ status: number; contentType: string; text: string }> {
  const answer = await request(`${t.router.adminUrl}${r.path}`, {
    method: r.method,
    headers: { ...(r.token === undefined ? {} : { authorization: `Bearer ${r.token}` }), 'content-type': 'application/json' },
    body: r.body,
    dispatcher: agent,
  });
  return { status: answer.statusCode, contentType: String(answer.headers['content-type'] ?? ''), text: await answer.body.text() };
}

async function get(urlPath: string, method: Method = 'GET'): Promise<unknown> {
  const answer = await request(`${t.router.adminUrl}${urlPath}`, { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, dispatcher: agent });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`${method} ${urlPath}: ${answer.statusCode} ${text}`);
  return JSON.parse(text);
}

/** Everything a client can read, plus the state file's bytes. */
async function everything(): Promise<{ file: string; endpoints: unknown[] }> {
  const file = await readFile(path.join(t.stateDir, 'state.json'), 'utf8');
  const { endpoints } = (await get('/v1/endpoints')) as { endpoints: { name: string }[] };
  const details: unknown[] = [];
  for (const { name: e } of endpoints) {
    const at = `/v1/endpoints/${encodeURIComponent(e)}`;
    details.push(await get(at), await get(`${at}/keys`, 'POST'), await get(`${at}/deployments`));
  }
  return { file, endpoints: details };
}

/** Provisioning settles in the background: wait for it, so only a request can change what is read. */
async function settled(): Promise<{ file: string; endpoints: unknown[] }> {
  return waitFor(
    async () => {
      const now = await everything();
      return /"provisioningState":"(Creating|Updating|Deleting)"|"state":"starting"/.test(JSON.stringify(now)) ? undefined : now;
    },
    20_000,
    'deployments settled',
  );
}

function checkErrorShape(status: number, json: unknown): void {
  expect(json, 'an error answer is {"error": {...}}').toEqual({ error: expect.any(Object) });
  const error = (json as { error: Record<string, unknown> }).error;
  expect(
    Object.keys(error).every((k) => ['code', 'message', 'field'].includes(k)),
    `only code, message, field: ${JSON.stringify(error)}`,
  ).toBe(true);
  expect(error.code).toMatch(/^SAFEROLL_E_[A-Z_]+$/);
  expect(typeof error.message === 'string' && error.message.length > 0).toBe(true);
  if (error.field !== undefined || status === 400)
    expect(typeof error.field === 'string' && error.field.length > 0, `400 names the field: ${JSON.stringify(error)}`).toBe(true);
}

/** Own names (and values) of the objects a prototype-keyed write would land on. */
function globalsNow(): Record<string, unknown> {
  const of = (o: object): [string, unknown][] => Object.getOwnPropertyNames(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)?.value]);
  return { object: of(Object), objectPrototype: of(Object.prototype), functionPrototype: of(Function.prototype) };
}

/** An accepted request did what it said: it names what the path named, and a PATCH stores the maps sent (zeros dropped). */
function checkAccepted(r: AdminRequest, json: Record<string, unknown>): void {
  const match = /^\/v1\/endpoints\/([^/?]+)(?:\/deployments\/([^/?]+))?$/.exec(r.path);
  if (!match?.[1]) return;
  const [endpoint, deployment] = [decodeURIComponent(match[1]), match[2] && decodeURIComponent(match[2])];
  if (deployment) expect({ endpoint: json.endpoint, name: json.name }).toEqual({ endpoint, name: deployment });
  else expect(json.name).toBe(endpoint);
  if (deployment || r.method !== 'PATCH' || r.body === undefined) return;
  const sent = JSON.parse(r.body) as Record<string, Record<string, number>>;
  for (const field of ['traffic', 'mirrorTraffic'] as const) {
    if (sent[field] === undefined) continue;
    const stored = Object.entries(sent[field]).filter(([, percent]) => percent > 0);
    expect(Object.entries(json[field] as object), `${field} stored as sent`).toEqual(stored);
  }
}

beforeAll(async () => {
  t = await startTestRouter();
  upstream = await startUpstream('blue');
  await t.admin.putEndpoint('shop', { authMode: 'key', tags: { team: 'ml' } });
  for (const d of ['blue', 'green', 'spare']) await t.admin.putDeployment('shop', d, { instanceCount: 1, upstreams: [upstream.url] });
  await settled();
  await t.admin.setTraffic('shop', { blue: 100 });
});

afterAll(async () => {
  await t.close();
  await agent.close();
  await upstream.close();
});

describe('the admin API under arbitrary requests', () => {
  it('answers 2xx or a clean 4xx that names the field and changes nothing; never 5xx, never a hang', async () => {
    const statuses = new Map<number, number>();
    const globals = globalsNow();
    await fc.assert(
      fc.asyncProperty(adminRequest(), async (r) => {
        const before = await settled();
        const answer = await send(r);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect(answer.status, `${r.method} ${r.path} ${r.body ?? ''}: ${answer.text}`).toBeLessThan(500);
        // The router runs in this process: nothing may have been written onto the language's own objects.
        expect(globalsNow(), 'globals untouched').toEqual(globals);
        if (answer.status === 204) return;
        if (!r.path.startsWith('/metrics') || answer.status >= 400) expect(answer.contentType).toBe('application/json');
        if (answer.status < 400) {
          if (!r.path.startsWith('/metrics')) checkAccepted(r, JSON.parse(answer.text) as Record<string, unknown>);
          return;
        }
        checkErrorShape(answer.status, JSON.parse(answer.text));
        expect(await everything(), `${r.method} ${r.path} ${r.body ?? ''} was refused (${answer.text}) but changed state`).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    // The generators reach past validation too, or the property would be vacuous.
    expect([...statuses.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(RUNS / 4);
    expect(statuses.get(404)).toBeGreaterThan(0);
  });

  it('still serves afterwards, and whatever it accepted loads again after a restart', async () => {
    expect((await request(`${t.router.adminUrl}/healthz`, { dispatcher: agent })).statusCode).toBe(200);
    const before = await settled();
    await t.router.close();
    const again = await startTestRouter({ stateDir: t.stateDir });
    try {
      const view = await again.admin.listEndpoints();
      expect(view).toEqual(before.endpoints.filter((_, i) => i % 3 === 0));
    } finally {
      await again.close();
    }
  });
});
