// How the worker and the CLI find Temporal: a temporal.toml profile (as the
// Temporal CLI writes it), overridden by TEMPORAL_* variables, overridden by
// flags; every bad value refused with the flag, variable or file field named.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSaferollError } from '../../shared/errors.js';
import { resolveWorkerConfig } from '../../worker/config.js';
import { resolveTemporalSettings, type TemporalFlags } from '../../worker/temporal-config.js';

let dir: string;
let config: string;
let cert: string;
let key: string;

const PROFILES = `# written as \`temporal config set\` would
[profile.default]
address = "default.example:7233"
namespace = "default-ns"

[profile.cloud]
address = "cloud.example:7233"
namespace = "cloud-ns"
api_key = "cloud-key"

[profile.cloud.grpc_meta]
x-team = "payments"
`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-temporal-config-'));
  config = path.join(dir, 'temporal.toml');
  cert = path.join(dir, 'client.pem');
  key = path.join(dir, 'client.key');
  await writeFile(config, PROFILES);
  await writeFile(cert, 'CERTIFICATE');
  await writeFile(key, 'KEY');
});

/** No file of the user's and none of the test machine's variables: only what a case gives. */
function resolve(env: Record<string, string>, flags: TemporalFlags = {}) {
  return resolveTemporalSettings(flags, { HOME: dir, XDG_CONFIG_HOME: dir, ...env });
}

function errorOf(env: Record<string, string>, flags: TemporalFlags = {}): { code: string; message: string; field: string | undefined } {
  try {
    resolve(env, flags);
  } catch (err) {
    if (!isSaferollError(err)) throw err;
    return { code: err.code, message: err.message, field: err.field };
  }
  throw new Error('resolved without an error');
}

async function tempConfig(text: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(dir, 'case-')), 'temporal.toml');
  await writeFile(file, text);
  return file;
}

describe('where the settings come from', () => {
  it('defaults to localhost:7233 and namespace "default" with nothing configured (and says the address is the default)', () => {
    expect(resolve({})).toMatchObject({ temporalAddress: 'localhost:7233', namespace: 'default', addressSource: undefined, tls: undefined, apiKey: undefined });
  });

  it('reads the default profile of the file named by TEMPORAL_CONFIG_FILE', () => {
    expect(resolve({ TEMPORAL_CONFIG_FILE: config })).toMatchObject({
      temporalAddress: 'default.example:7233',
      namespace: 'default-ns',
      addressSource: `${config}: profile.default.address`,
    });
  });

  it("reads the Temporal CLI's own file ($XDG_CONFIG_HOME/temporalio/temporal.toml) when none is named", async () => {
    const home = await mkdtemp(path.join(dir, 'xdg-'));
    const file = path.join(home, 'temporalio', 'temporal.toml');
    await mkdir(path.dirname(file));
    await writeFile(file, PROFILES);
    expect(resolveTemporalSettings({}, { XDG_CONFIG_HOME: home }).temporalAddress).toBe('default.example:7233');
  });

  it('takes the profile named by TEMPORAL_PROFILE, with its API key (TLS on) and gRPC headers', () => {
    expect(resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' })).toMatchObject({
      temporalAddress: 'cloud.example:7233',
      namespace: 'cloud-ns',
      apiKey: 'cloud-key',
      tls: true,
      metadata: { 'x-team': 'payments' },
    });
  });

  it('lets --profile and --config-file win over TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE', async () => {
    const other = await tempConfig('[profile.staging]\naddress = "staging.example:7233"\n');
    const settings = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' }, { 'config-file': other, profile: 'staging' });
    expect(settings.temporalAddress).toBe('staging.example:7233');
  });

  it('lets the variables win over the profile, field by field', () => {
    const settings = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud', TEMPORAL_ADDRESS: 'env.example:7233', TEMPORAL_API_KEY: 'env-key' });
    expect(settings).toMatchObject({ temporalAddress: 'env.example:7233', addressSource: 'TEMPORAL_ADDRESS', namespace: 'cloud-ns', apiKey: 'env-key' });
  });

  it('lets the flags win over the variables', () => {
    const settings = resolve(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: 'env.example:7233', TEMPORAL_NAMESPACE: 'env-ns' },
      { address: 'flag.example:7233', namespace: 'flag-ns' },
    );
    expect(settings).toMatchObject({ temporalAddress: 'flag.example:7233', addressSource: '--address', namespace: 'flag-ns' });
  });

  it('counts an empty variable as unset, as saferoll always did', () => {
    expect(resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' })).toMatchObject({
      temporalAddress: 'default.example:7233',
      namespace: 'default-ns',
    });
  });

  it("reads the mTLS files named by TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY (the names saferoll documented) and by envconfig's names", () => {
    for (const env of <Record<string, string>[]>[
      { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key },
      { TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key, TEMPORAL_TLS_SERVER_NAME: 'tls.example' },
    ]) {
      const { tls } = resolve(env);
      expect(typeof tls === 'object' && tls.clientCertPair && Buffer.from(tls.clientCertPair.crt).toString(), JSON.stringify(env)).toBe('CERTIFICATE');
      expect(typeof tls === 'object' && tls.clientCertPair && Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY');
    }
    const named = resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key, TEMPORAL_TLS_SERVER_NAME: 'tls.example' }).tls;
    expect(typeof named === 'object' && named.serverNameOverride).toBe('tls.example');
  });

  it('turns TLS on with TEMPORAL_TLS=true and off with TEMPORAL_TLS=false', () => {
    expect(resolve({ TEMPORAL_TLS: 'true' }).tls).toBeTruthy();
    expect(resolve({ TEMPORAL_TLS: 'false' }).tls).toBeFalsy();
  });

  it('takes an empty file (or /dev/null) as no profiles', () => {
    expect(resolve({ TEMPORAL_CONFIG_FILE: devNull, TEMPORAL_ADDRESS: 'h:1' }).temporalAddress).toBe('h:1');
  });

  it('gives the worker the same Temporal settings, plus the routing core and task queue from flags or variables', () => {
    const config = resolveWorkerConfig(
      { address: 'flag.example:7233', 'router-url': 'http://flag-router' },
      {
        HOME: dir,
        TEMPORAL_ADDRESS: 'env.example:1',
        SAFEROLL_ROUTER_URL: 'http://env-router',
        SAFEROLL_DATA_URL: 'http://env-data',
        SAFEROLL_TASK_QUEUE: 'q',
        SAFEROLL_ADMIN_TOKEN: 't',
      },
    );
    expect(config).toMatchObject({
      temporalAddress: 'flag.example:7233',
      routerAdminUrl: 'http://flag-router',
      routerDataUrl: 'http://env-data',
      taskQueue: 'q',
      adminToken: 't',
    });
  });
});

describe('bad settings are refused, naming where they came from', () => {
  const cases: {
    name: string;
    env: () => Promise<Record<string, string>> | Record<string, string>;
    flags?: TemporalFlags;
    field: string | RegExp;
    message: RegExp;
  }[] = [
    {
      name: 'a TEMPORAL_TLS that is not a boolean',
      env: () => ({ TEMPORAL_TLS: 'yes' }),
      field: 'TEMPORAL_TLS',
      message: /TEMPORAL_TLS must be true, false, 1 or 0, got "yes"/,
    },
    {
      name: 'a TEMPORAL_CONFIG_FILE that does not exist',
      env: () => ({ TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml') }),
      field: 'TEMPORAL_CONFIG_FILE',
      message: /^TEMPORAL_CONFIG_FILE \S+missing\.toml: cannot read it: ENOENT/,
    },
    {
      name: 'a --config-file that does not exist',
      env: () => ({}),
      flags: { 'config-file': '/nonexistent/t.toml' },
      field: '--config-file',
      message: /^--config-file \/nonexistent\/t\.toml: cannot read it/,
    },
    {
      name: 'a file that is not TOML, at line and column',
      env: async () => ({ TEMPORAL_CONFIG_FILE: await tempConfig('[profile.default]\naddress = "unterminated\n') }),
      field: 'TEMPORAL_CONFIG_FILE',
      message: /temporal\.toml:2:\d+: control characters are not allowed in strings$/,
    },
    {
      name: 'a profile value of the wrong type',
      env: async () => ({ TEMPORAL_CONFIG_FILE: await tempConfig('[profile.default]\naddress = 7233\n') }),
      field: /temporal\.toml: profile\.default\.address$/,
      message: /temporal\.toml: profile\.default\.address: must be a string, got a number$/,
    },
    {
      name: 'an API key with TLS turned off (it would go out in clear text)',
      env: () => ({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }),
      field: 'TEMPORAL_TLS',
      message: /^TLS is turned off .* while an API key is set: the key would be sent in clear text$/,
    },
    {
      name: 'a non-string api_key in a profile is named by its type, never printed',
      env: async () => ({ TEMPORAL_CONFIG_FILE: await tempConfig('[profile.default]\napi_key = 123456789\n') }),
      field: /profile\.default\.api_key$/,
      message: /profile\.default\.api_key: must be a string, got a number$/,
    },
    {
      name: 'a TEMPORAL_PROFILE the file does not have',
      env: () => ({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' }),
      field: 'TEMPORAL_PROFILE',
      message: /^TEMPORAL_PROFILE: no profile "prod": \S+ has profiles "default", "cloud"$/,
    },
    {
      name: 'a --profile with no config file at all',
      env: () => ({}),
      flags: { profile: 'prod' },
      field: '--profile',
      message:
        /^--profile: no profile "prod": no Temporal config file \(looked for \S+temporalio\/temporal\.toml; name one with --config-file or TEMPORAL_CONFIG_FILE\)$/,
    },
    {
      name: 'an address that is a URL',
      env: () => ({ TEMPORAL_ADDRESS: 'http://temporal.example:7233' }),
      field: 'TEMPORAL_ADDRESS',
      message: /^TEMPORAL_ADDRESS: a Temporal address is host:port \(e\.g\. localhost:7233\), got "http:\/\/temporal\.example:7233"$/,
    },
    {
      name: 'an --address with a port out of range',
      env: () => ({}),
      flags: { address: 'h:70000' },
      field: '--address',
      message: /^--address: a Temporal address is host:port/,
    },
    {
      name: 'a bad address in a profile',
      env: async () => ({ TEMPORAL_CONFIG_FILE: await tempConfig('[profile.default]\naddress = "a b:1"\n') }),
      field: /profile\.default\.address$/,
      message: /temporal\.toml: profile\.default\.address: a Temporal address is host:port/,
    },
    {
      name: 'a client certificate that cannot be read (named as the user spelled it)',
      env: () => ({ TEMPORAL_TLS_CERT: path.join(dir, 'nope.pem'), TEMPORAL_TLS_KEY: key }),
      field: 'TEMPORAL_TLS_CERT',
      message: /^TEMPORAL_TLS_CERT: cannot read \S+nope\.pem: ENOENT$/,
    },
    {
      name: 'a client certificate without its key',
      env: () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert }),
      field: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      message: /TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH \(tls\.client_key_path in a profile\) is not/,
    },
    {
      name: "a profile's key file that cannot be read",
      env: async () => ({
        TEMPORAL_CONFIG_FILE: await tempConfig(`[profile.default.tls]\nclient_cert_path = "${cert}"\nclient_key_path = "/nonexistent/k"\n`),
      }),
      field: /profile\.default\.tls\.client_key_path$/,
      message: /profile\.default\.tls\.client_key_path: cannot read \/nonexistent\/k: ENOENT$/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const error = errorOf(await c.env(), c.flags);
      expect(error.code).toBe('SAFEROLL_E_VALIDATION');
      expect(error.message).toMatch(c.message);
      if (typeof c.field === 'string') expect(error.field).toBe(c.field);
      else expect(error.field).toMatch(c.field);
    });
  }
});
