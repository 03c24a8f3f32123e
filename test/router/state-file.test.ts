// The state file is validated when the router starts: shape and the admin
// API's own rules. A file the API could not have written stops the router
// with one error naming the file and the field, and is left untouched.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSaferollError } from '../../shared/errors.js';
import { cloneState, emptyState } from '../../router/model.js';
import { readState, writeState } from '../../router/state-file.js';
import { startTestRouter } from '../support/router.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const at = '2026-01-01T00:00:00.000Z';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function deployment(endpoint: string, name: string, extra: Json = {}): Json {
  return {
    endpoint,
    name,
    instanceCount: 1,
    source: { upstreams: ['http://127.0.0.1:9'] },
    provisioningState: 'Succeeded',
    instances: [],
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

/** A state file the router itself could have written: scoring with blue (100%) and green. */
function validState(): Json {
  return {
    version: 1,
    endpoints: {
      scoring: {
        name: 'scoring',
        authMode: 'key',
        tags: { team: 'ml' },
        keys: { primary: 'primary-key', secondary: 'secondary-key' },
        traffic: { blue: 100 },
        mirrorTraffic: {},
        createdAt: at,
        updatedAt: at,
      },
    },
    deployments: { 'scoring/blue': deployment('scoring', 'blue'), 'scoring/green': deployment('scoring', 'green') },
  };
}

async function stateDirWith(text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'saferoll-state-'));
  dirs.push(dir);
  const file = path.join(dir, 'state.json');
  await writeFile(file, text);
  return { dir, file };
}

const cases: { what: string; change: (s: Json) => void; field: string; message: RegExp }[] = [
  {
    what: 'live traffic summing to 250',
    change: (s) => {
      s.deployments['scoring/spare'] = deployment('scoring', 'spare');
      s.endpoints.scoring.traffic = { blue: 100, green: 100, spare: 50 };
    },
    field: 'endpoints.scoring.traffic',
    message: /live traffic must sum to 0 or 100, got 250/,
  },
  {
    what: 'traffic to a missing deployment',
    change: (s) => (s.endpoints.scoring.traffic = { blue: 90, ghost: 10 }),
    field: 'endpoints.scoring.traffic.ghost',
    message: /deployment "ghost" does not exist/,
  },
  { what: 'a missing field (keys)', change: (s) => delete s.endpoints.scoring.keys, field: 'endpoints.scoring.keys', message: /required/ },
  {
    what: 'a deployment without a source',
    change: (s) => delete s.deployments['scoring/blue'].source,
    field: 'deployments.scoring/blue.source',
    message: /required/,
  },
  { what: 'no endpoints at all', change: (s) => delete s.endpoints, field: 'endpoints', message: /required/ },
  {
    what: 'a percent of the wrong type',
    change: (s) => (s.endpoints.scoring.traffic = { blue: '100' }),
    field: 'endpoints.scoring.traffic.blue',
    message: /expected number/,
  },
  {
    what: 'mirror to a deployment with live traffic',
    change: (s) => (s.endpoints.scoring.mirrorTraffic = { blue: 10 }),
    field: 'endpoints.scoring.mirrorTraffic.blue',
    message: /has live traffic/,
  },
  {
    what: 'mirror above 50%',
    change: (s) => (s.endpoints.scoring.mirrorTraffic = { green: 60 }),
    field: 'endpoints.scoring.mirrorTraffic.green',
    message: /at most 50%/,
  },
  {
    what: 'mirror to two deployments',
    change: (s) => {
      s.deployments['scoring/spare'] = deployment('scoring', 'spare');
      s.endpoints.scoring.mirrorTraffic = { green: 10, spare: 10 };
    },
    field: 'endpoints.scoring.mirrorTraffic',
    message: /one deployment only/,
  },
  {
    what: 'a deployment filed under another key',
    change: (s) => (s.deployments['scoring/green'] = deployment('scoring', 'blue')),
    field: 'deployments.scoring/green',
    message: /its key must be "scoring\/blue"/,
  },
  {
    what: 'an endpoint filed under another name',
    change: (s) => (s.endpoints.scoring.name = 'other'),
    field: 'endpoints.scoring.name',
    message: /must be the endpoint's key/,
  },
  {
    what: 'a deployment of an endpoint that does not exist',
    change: (s) => (s.deployments['ghost/blue'] = deployment('ghost', 'blue')),
    field: 'deployments.ghost/blue.endpoint',
    message: /endpoint "ghost" does not exist/,
  },
  {
    what: 'an endpoint named constructor',
    change: (s) => (s.endpoints.constructor = { ...s.endpoints.scoring, name: 'constructor', traffic: {} }),
    field: 'endpoints.constructor',
    message: /reserved name/,
  },
  {
    what: 'an invalid deployment name',
    change: (s) => (s.deployments['scoring/Blue!'] = deployment('scoring', 'Blue!')),
    field: 'deployments.scoring/Blue!.name',
    message: /must match/,
  },
  {
    what: 'more instances than upstreams',
    change: (s) => (s.deployments['scoring/green'].instanceCount = 3),
    field: 'deployments.scoring/green.instanceCount',
    message: /at most the number of upstreams/,
  },
  {
    what: 'a shadow comparison with an invalid JSON path',
    change: (s) => (s.endpoints.scoring.mirrorCompare = { json: { ignore: ['score'], labels: [] } }),
    field: 'endpoints.scoring.mirrorCompare.json.ignore.0',
    message: /is not a JSON path/,
  },
  { what: 'an unknown state version', change: (s) => (s.version = 2), field: 'version', message: /reads state version 1, got 2/ },
  { what: 'an unknown field', change: (s) => (s.endpoints.scoring.colour = 'red'), field: 'endpoints.scoring.colour', message: /unknown field/ },
];

describe('state file validation on start', () => {
  it('a shadow comparison spec reads back the same', () => {
    const withCompare = validState();
    withCompare.endpoints.scoring.mirrorCompare = { json: { ignore: ['$.id'], labels: ['$.label'], numeric: { relative: 0.01 } }, status: true };
    const read = readState(withCompare);
    if (!('state' in read)) throw new Error(`refused: ${JSON.stringify(read.violation)}`);
    expect(JSON.parse(writeState(read.state))).toEqual(withCompare);
  });

  it('a valid file loads, and what the router writes reads back the same', async () => {
    const read = readState(validState());
    if (!('state' in read)) throw new Error(`refused: ${JSON.stringify(read.violation)}`);
    expect(read.state.endpoints.get('scoring')?.traffic).toEqual(new Map([['blue', 100]]));
    expect(JSON.parse(writeState(read.state))).toEqual(validState());
    const again = readState(JSON.parse(writeState(read.state)));
    expect('state' in again && again.state).toEqual(read.state);
  });

  for (const c of cases) {
    it(`refuses ${c.what}, naming the file and ${c.field}, and leaves the file untouched`, async () => {
      const state = validState();
      c.change(state);
      const text = JSON.stringify(state, null, 2);
      const { dir, file } = await stateDirWith(text);
      const err = await startTestRouter({ stateDir: dir }).then(
        async (t) => {
          await t.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(isSaferollError(err) && err.code).toBe('SAFEROLL_E_STATE_CORRUPT');
      const message = (err as Error).message;
      expect(message.startsWith(`${file}: ${c.field}: `)).toBe(true);
      expect(message).toMatch(c.message);
      expect(message).toMatch(/left untouched/);
      expect(message).not.toContain('\n');
      expect(await readFile(file, 'utf8')).toBe(text);
    });
  }

  it('names the whole file when it is not an object', async () => {
    const read = readState([]);
    expect('violation' in read && read.violation.field).toBe('');
  });

  it('accepts deployments left Deleting by an endpoint deletion cut short, and finishes deleting them', async () => {
    const state = validState();
    state.deployments['gone/old'] = deployment('gone', 'old', { provisioningState: 'Deleting' });
    const { dir, file } = await stateDirWith(JSON.stringify(state));
    const t = await startTestRouter({ stateDir: dir });
    try {
      expect((await t.admin.getEndpoint('scoring')).traffic).toEqual({ blue: 100 });
      expect(Object.keys((JSON.parse(await readFile(file, 'utf8')) as Json).deployments as Json).sort()).toEqual(['scoring/blue', 'scoring/green']);
    } finally {
      await t.close();
    }
  });
});

describe('the in-memory state', () => {
  it('a copy keeps Maps and null-prototype objects, and shares nothing with the original', () => {
    const state = emptyState();
    const env = Object.create(null) as Record<string, string>;
    env.MODE = 'a';
    state.deployments.set('e/d', {
      endpoint: 'e',
      name: 'd',
      instanceCount: 1,
      source: { process: { command: 'node', args: [], env, readinessPath: '/healthz' } },
      provisioningState: 'Succeeded',
      instances: [],
      createdAt: at,
      updatedAt: at,
    });
    const copy = cloneState(state);
    const source = copy.deployments.get('e/d')?.source;
    expect(copy.deployments).toBeInstanceOf(Map);
    expect(source && 'process' in source && Object.getPrototypeOf(source.process.env)).toBe(null);
    if (source && 'process' in source) source.process.env.MODE = 'b';
    expect(env.MODE).toBe('a');
  });
});
