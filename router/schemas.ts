// zod schemas for every admin API input (and, reused by state-file.ts, for
// what the state file holds). Validation happens here, when configuration
// changes — never per data-plane request. Maps keyed by user input come out
// as Maps (or null-prototype objects), with reserved names refused.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { ENV_NAME_PATTERN, METRICS_PATH, NAME_PATTERN, NAME_RULE, type DeploymentSource, type DeploymentSpec, type ProcessSpec } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import { isReservedKey, nullPrototypeDict, reservedKeyMessage } from '../shared/reserved-keys.js';
import { guardTtlProblem, type GuardRelease, type GuardRequest } from './guard-lease.js';
import { compareSpec } from './shadow/compare-schema.js';

/** Paths of the data plane's own: an endpoint of that name could never be reached. */
const RESERVED_ENDPOINT_NAMES: ReadonlySet<string> = new Set(['healthz', 'metrics']);

/** An endpoint or deployment name. */
export const resourceName = z
  .string()
  .refine((name) => !isReservedKey(name), { error: (issue) => reservedKeyMessage(String(issue.input)), abort: true })
  .regex(NAME_PATTERN, NAME_RULE);

export const endpointName = resourceName.refine((name) => !RESERVED_ENDPOINT_NAMES.has(name), {
  error: (issue) => `"${String(issue.input)}" is reserved; choose another endpoint name`,
});

/**
 * The entries of a JSON object keyed by user input. zod's z.record silently
 * drops a `__proto__` key (so `{"traffic": {"__proto__": 100}}` used to read
 * as "no traffic at all" and empty the split), and a plain object answers to
 * `constructor`: every reserved key is refused here, before anything copies it.
 */
function keyedEntries<K extends string, V>(key: z.ZodType<K, string>, value: z.ZodType<V>) {
  return z.unknown().transform((input, ctx): [K, V][] => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      const got = input === undefined ? undefined : input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input;
      ctx.addIssue({ code: 'custom', input, message: got === undefined ? 'required' : `expected an object, got ${got}` });
      return z.NEVER;
    }
    const entries: [K, V][] = [];
    for (const [rawKey, rawValue] of Object.entries(input)) {
      if (isReservedKey(rawKey)) {
        ctx.addIssue({ code: 'custom', input: rawKey, path: [rawKey], message: reservedKeyMessage(rawKey) });
        continue;
      }
      // A nested parse does not inherit the caller's message map: pass ours on.
      const k = key.safeParse(rawKey, { error: missingAsRequired });
      const v = value.safeParse(rawValue, { error: missingAsRequired });
      for (const issue of [...(k.error?.issues ?? []), ...(v.error?.issues ?? [])]) ctx.addIssue({ ...issue, path: [rawKey, ...issue.path] });
      if (k.success && v.success) entries.push([k.data, v.data]);
    }
    return entries;
  });
}

/** A JSON object keyed by user input, as a Map. */
export function keyedMap<K extends string, V>(key: z.ZodType<K, string>, value: z.ZodType<V>) {
  return keyedEntries(key, value).transform((entries) => new Map(entries));
}

/** A JSON object keyed by user input, as a null-prototype object (data handed on as it is). */
export function keyedDict<V>(key: z.ZodType<string, string>, value: z.ZodType<V>) {
  return keyedEntries(key, value).transform((entries) => nullPrototypeDict(entries));
}

export const tags = keyedMap(z.string().max(128), z.string().max(256));

export const endpointPutBody = z.strictObject({
  authMode: z.literal('key'),
  description: z.string().max(1024).optional(),
  tags: tags.optional(),
});

// Credentials in an upstream URL are refused rather than used: the data plane
// never sent them (they were shown back by GET and silently dropped), and
// storing them would put a secret in the state file, in every GET and in the
// rollout's Temporal history. An upstream that needs auth belongs behind a
// proxy on its side.
export const upstreamUrl = z.string().check((ctx) => {
  let url: URL;
  try {
    url = new URL(ctx.value);
  } catch {
    url = new URL('invalid:');
  }
  const origin = (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '' && url.hash === '';
  const message = !origin
    ? 'must be an http(s) origin such as http://127.0.0.1:9001 (no path, query or fragment)'
    : url.username !== '' || url.password !== ''
      ? 'must not contain credentials (user:password@): the router never sends them; put an upstream that needs auth behind a proxy on its side'
      : undefined;
  if (message) ctx.issues.push({ code: 'custom', input: ctx.value, message });
});

export const instanceCount = z.number().int().min(1).max(64);

export const processSpec = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: keyedDict(z.string().regex(ENV_NAME_PATTERN, 'environment names must be identifiers'), z.string()).default(() => nullPrototypeDict<string>([])),
  // Secrets by reference: only the paths are stored and shown (readability is checked on create).
  envFiles: z
    .array(z.string().refine((file) => isAbsolute(file), 'must be an absolute path (the router reads it)'))
    .max(16)
    .optional(),
  readinessPath: z.string().startsWith('/').default('/healthz'),
});

export const upstreamsSource = z.strictObject({ upstreams: z.array(upstreamUrl).min(1).max(64) });
export const processSource = z.strictObject({ process: processSpec });

// The schemas parse into the shared contract exactly (a drift on either side is a compile error).
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;
type _ProcessSpecMatches = Holds<Same<z.output<typeof processSpec>, ProcessSpec>>;
type _DeploymentSourceMatches = Holds<Same<z.output<typeof upstreamsSource> | z.output<typeof processSource>, DeploymentSource>>;

/** The path Prometheus scrapes on each instance (GET /v1/prometheus/targets lists it). */
export const metricsPath = z.string().max(METRICS_PATH.maxLength, METRICS_PATH.rule).regex(METRICS_PATH.pattern, METRICS_PATH.rule);

const deploymentFields = { instanceCount, metricsPath: metricsPath.optional() };
type _DeploymentFieldsMatch = Holds<Same<z.output<z.ZodObject<typeof deploymentFields>>, Pick<DeploymentSpec, 'instanceCount' | 'metricsPath'>>>;

export const deploymentPutBody = z.union([upstreamsSource.extend(deploymentFields), processSource.extend(deploymentFields)]);

export const deploymentPatchBody = z.strictObject({ instanceCount });

const percent = z.number().int('must be an integer').min(0).max(100);
export const percentMap = keyedMap(resourceName, percent);

// The guard lease (guard-lease.ts): `{"ttl": "60s", "fallback": "blue"}` takes or renews it, null releases it
// (a fired one too), `{"release": true}` releases it unless it fired. One object, not a union, so a problem
// is still reported at its own field (guard.ttl), not as "matches no form".
const guardRequest = z
  .strictObject({
    ttl: z
      .string()
      .check((ctx) => {
        const problem = guardTtlProblem(ctx.value);
        if (problem !== undefined) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
      })
      .optional(),
    fallback: resourceName.optional(),
    release: z.literal(true).optional(),
  })
  .check((ctx) => {
    const { ttl, fallback, release } = ctx.value;
    if (release === true) {
      for (const field of ['ttl', 'fallback'] as const) {
        if (ctx.value[field] !== undefined)
          ctx.issues.push({ code: 'custom', input: ctx.value[field], path: [field], message: 'not with release: a release takes nothing else' });
      }
      return;
    }
    if (ttl === undefined) ctx.issues.push({ code: 'custom', input: undefined, path: ['ttl'], message: 'required' });
    if (fallback === undefined) ctx.issues.push({ code: 'custom', input: undefined, path: ['fallback'], message: 'required' });
  })
  .transform((g): GuardRequest | GuardRelease => (g.release === true ? { release: true } : { ttl: g.ttl ?? '', fallback: g.fallback ?? '' }));

export const endpointPatchBody = z.strictObject({
  traffic: percentMap.optional(),
  mirrorTraffic: percentMap.optional(),
  // Shadow comparison of the mirror's answers with blue's; null turns it off.
  mirrorCompare: compareSpec.nullable().optional(),
  guard: guardRequest.nullable().optional(),
  description: z.string().max(1024).optional(),
  tags: tags.optional(),
});

export const regenerateKeyBody = z.strictObject({ keyType: z.enum(['primary', 'secondary']) });

/** What a request means once parsed (Maps for user-keyed maps): what the registry takes. */
export type EndpointPut = z.output<typeof endpointPutBody>;
export type DeploymentPut = z.output<typeof deploymentPutBody>;
export type EndpointPatch = z.output<typeof endpointPatchBody>;

/** The JSON of a parsed shape: a Map travels as an object. */
type Wire<T> =
  T extends Map<infer K extends string, infer V>
    ? Record<K, Wire<V>>
    : T extends (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [P in keyof T]: Wire<T[P]> }
        : T;

/** Request bodies as a client sends them (the typed client's inputs). */
export type EndpointPutBody = Wire<EndpointPut>;
export type DeploymentPutBody = Wire<DeploymentPut>;
export type EndpointPatchBody = Wire<EndpointPatch>;

/** Parses `input` or throws a validation error naming the first offending field (`body` for the body as a whole). */
export function parseBody<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input, { error: missingAsRequired });
  if (result.success) return result.data;
  const { field, message } = firstProblem(result.error.issues, 'body');
  throw new SaferollError('SAFEROLL_E_VALIDATION', `${field}: ${message}`, { field });
}

/** The first issue as a dotted field and a message; `root` names an issue about the input as a whole. */
export function firstProblem(issues: z.core.$ZodIssue[], root: string): { field: string; message: string } {
  const issue = pickIssue(issues);
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') return { field: fieldPath([...path, issue.keys[0] ?? '']), message: 'unknown field' };
  return { field: path.length > 0 ? fieldPath(path) : root, message: issue.message };
}

/** `a.b.c`; a key that is empty or would blur the path (dots, spaces, quotes) is quoted: `tags."a.b"`. */
function fieldPath(path: string[]): string {
  return path.map((key) => (/^[^\s."]+$/u.test(key) ? key : JSON.stringify(key))).join('.');
}

/** A parse-wide message map: a missing field reads "required" (zod says "expected string, received undefined"). */
export function missingAsRequired(issue: z.core.$ZodRawIssue): string | undefined {
  return (issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined ? 'required' : undefined;
}

// A union reports "invalid_union" at the root; its branch errors name the
// field the user actually got wrong, so dig into the closest branch.
function pickIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  const first = issues[0];
  if (!first) throw new SaferollError('SAFEROLL_E_INTERNAL', 'validation failed without an issue');
  // A missing union (no `source` at all) is just "required".
  if (first.code !== 'invalid_union' || first.errors.length === 0 || first.message === 'required') return first;
  const branches = first.errors.filter((b) => b.length > 0);
  const best = branches.find((b) => !b.some((i) => i.code === 'unrecognized_keys')) ?? branches[0];
  const picked = best?.[0];
  return picked ? { ...picked, path: [...first.path, ...picked.path] } : first;
}
