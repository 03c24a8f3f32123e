// Where and how saferoll reaches Temporal, read as the Temporal CLI reads it
// (@temporalio/envconfig): a profile of temporal.toml, overridden by TEMPORAL_*
// variables, overridden by command-line flags, then the defaults. Every bad
// value is refused here, naming the flag, variable or file field it came from.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import { loadClientConfigFromToml, loadClientConfigProfile, toClientOptions, type ClientConfig, type ClientConfigProfile } from '@temporalio/envconfig';
import { SaferollError } from '../shared/errors.js';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';
const DEFAULT_PROFILE = 'default';

/** What a Temporal Connection or NativeConnection needs, resolved. */
export interface TemporalSettings {
  temporalAddress: string;
  namespace: string;
  /** TLS with its files already read, `true` for server-verified TLS, `false` for none. */
  tls?: TLSConfig | boolean | undefined;
  apiKey?: string | undefined;
  /** gRPC headers from the profile's `grpc_meta` or TEMPORAL_GRPC_META_*. */
  metadata?: Record<string, string> | undefined;
  /** Which flag, variable or profile named the address; undefined when it is the default. */
  addressSource?: string | undefined;
}

export interface TemporalFlags {
  address?: string | undefined;
  namespace?: string | undefined;
  profile?: string | undefined;
  'config-file'?: string | undefined;
}

/** Names saferoll documented before it read profiles; each still works as the envconfig name it stands for. */
const LEGACY_VARIABLES: Record<string, string> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
};

/** The TLS files of a profile: the field of the profile, its variable, its key in temporal.toml. */
const TLS_FILES = [
  { field: 'clientCert', variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH', key: 'tls.client_cert_path' },
  { field: 'clientKey', variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH', key: 'tls.client_key_path' },
  { field: 'serverCACert', variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', key: 'tls.server_ca_cert_path' },
] as const;

const BOOLEAN_VALUES = ['true', 'false', '1', '0'];

/** Flags > TEMPORAL_* variables > the profile of temporal.toml > defaults. */
export function resolveTemporalSettings(flags: TemporalFlags, env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const { vars, aliases } = temporalVariables(env);
  const file = configFile(flags, vars, env);
  const profileName = flags.profile ?? vars.TEMPORAL_PROFILE;
  const profiles = file?.config.profiles ?? {};
  if (profileName !== undefined && profiles[profileName] === undefined) {
    const source = flags.profile !== undefined ? '--profile' : 'TEMPORAL_PROFILE';
    const known = Object.keys(profiles).map((p) => `"${p}"`);
    const where = file
      ? `${file.path} has ${known.length ? `profiles ${known.join(', ')}` : 'no profiles'}`
      : `no Temporal config file (looked for ${defaultConfigFile(env) ?? 'none'}; name one with --config-file or TEMPORAL_CONFIG_FILE)`;
    throw invalid(`${source}: no profile "${profileName}": ${where}`, source);
  }
  const chosen = profileName ?? DEFAULT_PROFILE;
  const fileProfile = profiles[chosen];
  const inFile = (key: string): string => `${file?.path}: profile.${chosen}.${key}`;
  if (fileProfile) checkProfileTypes(fileProfile, inFile);

  // envconfig lays the variables over the profile, as the Temporal CLI does.
  const profile: ClientConfigProfile = loadClientConfigProfile({
    ...(file && fileProfile ? { configSource: { data: file.text }, profile: chosen } : { disableFile: true }),
    overrideEnvVars: vars,
  });
  /** Which variable (as the user spelled it) or profile field a value came from. */
  const sourceOf = (variable: string, key: string, inProfile: boolean): string | undefined =>
    vars[variable] !== undefined ? (aliases[variable] ?? variable) : inProfile ? inFile(key) : undefined;

  const temporalAddress = flags.address ?? profile.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const addressSource = flags.address !== undefined ? '--address' : sourceOf('TEMPORAL_ADDRESS', 'address', fileProfile?.address !== undefined);
  checkAddress(temporalAddress, addressSource ?? 'the default address');
  const namespace = flags.namespace ?? profile.namespace ?? DEFAULT_NAMESPACE;
  if (!/^\S+$/.test(namespace)) {
    const source = flags.namespace !== undefined ? '--namespace' : sourceOf('TEMPORAL_NAMESPACE', 'namespace', true);
    throw invalid(`${source}: a namespace is one word, got "${namespace}"`, source);
  }

  const tlsSource = (tlsFile: (typeof TLS_FILES)[number]): string =>
    sourceOf(tlsFile.variable, tlsFile.key, fileProfile?.tls?.[tlsFile.field] !== undefined) ?? tlsFile.variable;
  for (const tlsFile of TLS_FILES) {
    const source = profile.tls?.[tlsFile.field];
    if (source && 'path' in source) readable(source.path, tlsSource(tlsFile));
  }
  const [cert, key] = TLS_FILES;
  if ((profile.tls?.clientCert === undefined) !== (profile.tls?.clientKey === undefined)) {
    const [given, missing] = profile.tls?.clientCert ? [cert, key] : [key, cert];
    throw invalid(
      `${tlsSource(given)} is set but ${missing.variable} (${missing.key} in a profile) is not: mTLS needs both the certificate and its key`,
      tlsSource(given),
    );
  }
  const { connectionOptions } = toClientOptions(profile);
  // An API key over plain text would hand it to anyone on the path (saferoll turned TLS on with a key before envconfig).
  if (connectionOptions.apiKey !== undefined && connectionOptions.tls === false) {
    throw invalid(
      'TLS is turned off (TEMPORAL_TLS, or tls.disabled in a profile) while an API key is set: the key would be sent in clear text',
      'TEMPORAL_TLS',
    );
  }
  return {
    temporalAddress,
    namespace,
    tls: connectionOptions.tls ?? undefined,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata as Record<string, string> | undefined,
    addressSource,
  };
}

/**
 * The TEMPORAL_* variables that are set (empty counts as unset, as it always
 * did), legacy names mapped; `aliases` remembers the name the user wrote.
 */
function temporalVariables(env: NodeJS.ProcessEnv): { vars: Record<string, string>; aliases: Record<string, string> } {
  const vars: Record<string, string> = {};
  const aliases: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('TEMPORAL_') && value) vars[name] = value;
  }
  for (const [legacy, name] of Object.entries(LEGACY_VARIABLES)) {
    const value = vars[legacy];
    if (value === undefined || vars[name] !== undefined) continue;
    vars[name] = value;
    aliases[name] = legacy;
  }
  // envconfig reads anything but "true" and "1" as false: a typo would turn TLS off unseen.
  const tls = vars.TEMPORAL_TLS;
  if (tls !== undefined && !BOOLEAN_VALUES.includes(tls)) throw invalid(`TEMPORAL_TLS must be true, false, 1 or 0, got "${tls}"`, 'TEMPORAL_TLS');
  return { vars, aliases };
}

interface ConfigFile {
  path: string;
  text: string;
  config: ClientConfig;
}

/** temporal.toml: the one named by --config-file or TEMPORAL_CONFIG_FILE (which must exist), else the user's own, if any. */
function configFile(flags: TemporalFlags, vars: Record<string, string>, env: NodeJS.ProcessEnv): ConfigFile | undefined {
  const named = flags['config-file'] ?? vars.TEMPORAL_CONFIG_FILE;
  const source = flags['config-file'] !== undefined ? '--config-file' : 'TEMPORAL_CONFIG_FILE';
  const file = named ?? defaultConfigFile(env);
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (named === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(`${named === undefined ? 'the Temporal config file' : source} ${file}: cannot read it: ${(err as Error).message}`, source);
  }
  // An empty file (or only comments) has no profiles; envconfig would stumble on it.
  if (/^(\s*(#.*)?)*$/.test(text)) return { path: file, text, config: { profiles: {} } };
  try {
    return { path: file, text, config: loadClientConfigFromToml(Buffer.from(text), { strict: false }) };
  } catch (err) {
    const { line, column } = err as { line?: unknown; column?: unknown };
    const at = typeof line === 'number' && typeof column === 'number' ? `:${line}:${column}` : '';
    const reason = ((err as Error).message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw invalid(`${file}${at}: ${reason}`, source);
  }
}

/** Where the Temporal CLI keeps its config: $XDG_CONFIG_HOME (or ~/.config), ~/Library/Application Support, %AppData%. */
function defaultConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  const home = env.HOME || os.homedir();
  let dir: string | undefined;
  if (process.platform === 'win32') dir = env.APPDATA;
  else if (process.platform === 'darwin') dir = path.join(home, 'Library', 'Application Support');
  else dir = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return dir ? path.join(dir, 'temporalio', 'temporal.toml') : undefined;
}

/** TOML values reach the profile unchecked; a number where a string belongs would fail far from here. */
function checkProfileTypes(profile: ClientConfigProfile, inFile: (key: string) => string): void {
  const text = (value: unknown, key: string): void => {
    // The value's type only, never the value: it may be a credential (api_key).
    if (value !== undefined && typeof value !== 'string')
      throw invalid(`${inFile(key)}: must be a string, got a ${Array.isArray(value) ? 'list' : typeof value}`, inFile(key));
  };
  text(profile.address, 'address');
  text(profile.namespace, 'namespace');
  text(profile.apiKey, 'api_key');
  if (profile.tls !== undefined) {
    if (profile.tls.disabled !== undefined && typeof profile.tls.disabled !== 'boolean') {
      throw invalid(`${inFile('tls.disabled')}: must be true or false, got ${JSON.stringify(profile.tls.disabled)}`, inFile('tls.disabled'));
    }
    text(profile.tls.serverName, 'tls.server_name');
    for (const { field, key } of TLS_FILES) {
      const source = profile.tls[field];
      if (source && 'path' in source) text(source.path, key);
    }
  }
  for (const [name, value] of Object.entries(profile.grpcMeta ?? {})) text(value, `grpc_meta.${name}`);
}

/** host, host:port or [ipv6]:port, as the SDK takes it; a URL (http://...) is the usual mistake. */
function checkAddress(address: string, source: string): void {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(address);
  const port = match?.[1] === undefined ? undefined : Number(match[1]);
  if (!match || (port !== undefined && (port < 1 || port > 65_535))) {
    throw invalid(`${source}: a Temporal address is host:port (e.g. ${DEFAULT_TEMPORAL_ADDRESS}), got "${address}"`, source);
  }
}

function readable(file: string, source: string): void {
  try {
    readFileSync(file);
  } catch (err) {
    throw invalid(`${source}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, source);
  }
}

function invalid(message: string, field: string | undefined): SaferollError {
  return new SaferollError('SAFEROLL_E_VALIDATION', message, { field });
}
