// zod schemas for every admin API input. Validation happens here, when
// configuration changes — never per data-plane request.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { SaferollError } from '../shared/errors.js';
import { guardTtlProblem } from './guard-lease.js';

export const NAME_PATTERN = /^[a-z][a-z0-9-]{2,31}$/;
const nameMessage = 'must match ^[a-z][a-z0-9-]{2,31}$ (3-32 lowercase letters, digits or dashes, starting with a letter)';

export const resourceName = z.string().regex(NAME_PATTERN, nameMessage);

export const endpointPutBody = z.strictObject({
  authMode: z.literal('key'),
  description: z.string().max(1024).optional(),
  tags: z.record(z.string().max(128), z.string().max(256)).optional(),
});

const loopbackOrHttpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '';
  } catch {
    return false;
  }
}, 'must be an http(s) origin such as http://127.0.0.1:9001 (no path or query)');

const instanceCount = z.number().int().min(1).max(64);

export const processSpec = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names must be identifiers'), z.string()).default({}),
  // Secrets by reference: only the paths are stored and shown (readability is checked on create).
  envFiles: z.array(z.string().refine((file) => isAbsolute(file), 'must be an absolute path (the router reads it)')).max(16).optional(),
  readinessPath: z.string().startsWith('/').default('/healthz'),
});

export const deploymentPutBody = z.union([
  z.strictObject({ instanceCount, upstreams: z.array(loopbackOrHttpUrl).min(1).max(64) }),
  z.strictObject({ instanceCount, process: processSpec }),
]);

export const deploymentPatchBody = z.strictObject({ instanceCount });

const percent = z.number().int('must be an integer').min(0).max(100);

// The guard lease (guard-lease.ts): `{"ttl": "60s", "fallback": "blue"}` takes or renews it, null releases it.
const guardRequest = z.strictObject({
  ttl: z.string().check((ctx) => {
    const problem = guardTtlProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
  }),
  fallback: resourceName,
});

export const endpointPatchBody = z
  .strictObject({
    traffic: z.record(resourceName, percent).optional(),
    mirrorTraffic: z.record(resourceName, percent).optional(),
    guard: guardRequest.nullable().optional(),
    description: z.string().max(1024).optional(),
    tags: z.record(z.string().max(128), z.string().max(256)).optional(),
  });

export const regenerateKeyBody = z.strictObject({ keyType: z.enum(['primary', 'secondary']) });

export type EndpointPutBody = z.infer<typeof endpointPutBody>;
export type DeploymentPutBody = z.infer<typeof deploymentPutBody>;
export type EndpointPatchBody = z.infer<typeof endpointPatchBody>;

/** Parses `input` or throws a validation error naming the first offending field. */
export function parseBody<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = pickIssue(result.error.issues);
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const field = [...path, key].join('.');
    throw new SaferollError('SAFEROLL_E_VALIDATION', `${field}: unknown field`, { field });
  }
  const field = path.join('.');
  throw new SaferollError('SAFEROLL_E_VALIDATION', field ? `${field}: ${issue.message}` : issue.message, { field: field || undefined });
}

// A union reports "invalid_union" at the root; its branch errors name the
// field the user actually got wrong, so dig into the closest branch.
function pickIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  const first = issues[0];
  if (!first) throw new SaferollError('SAFEROLL_E_INTERNAL', 'validation failed without an issue');
  if (first.code !== 'invalid_union' || first.errors.length === 0) return first;
  const branches = first.errors.filter((b) => b.length > 0);
  const best = branches.find((b) => !b.some((i) => i.code === 'unrecognized_keys')) ?? branches[0];
  const picked = best?.[0];
  return picked ? { ...picked, path: [...first.path, ...picked.path] } : first;
}
