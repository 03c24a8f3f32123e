// The schema of `analysis.metrics` (custom checks), `analysis.source` and
// `analysis.consecutiveErrorLimit`. Everything a check can get wrong before
// it runs is refused here with a path: no provider or two, an unknown
// placeholder, a non-URL address, min above max, a check that limits nothing.
import { z } from 'zod';
import { parseJsonPath } from '../shared/json-path.js';
import { METRIC_PLACEHOLDERS, unknownPlaceholders } from '../shared/metric-placeholders.js';
import { isReservedKey, reservedKeyMessage } from '../shared/reserved-keys.js';
import { MAX_CUSTOM_METRICS } from './custom-metric-limits.js';
import { describeValue, messageFor } from './schema-messages.js';
import type { CustomMetric, MetricsSource } from './types.js';

const PROVIDERS = ['prometheus', 'web'] as const;
const CHECK_KEYS = ['name', 'min', 'max', 'baseline', ...PROVIDERS];

/** Text whose `{{...}}` are all known placeholders. */
function template() {
  return z
    .string()
    .min(1)
    .check((ctx) => {
      for (const name of unknownPlaceholders(ctx.value)) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message: `unknown placeholder {{${name}}} (placeholders are ${METRIC_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`,
        });
      }
    });
}

function httpUrl(what: string) {
  return z.string().check((ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(ctx.value);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `expected ${what} (http:// or https://), got ${describeValue(ctx.value)}` });
    }
  });
}

const finite = z.number().refine(Number.isFinite, { error: 'must be a finite number' });

const prometheusSchema = z.strictObject({
  query: template(),
  // Placeholders are not allowed in the address: it is where, not what.
  address: httpUrl('a URL such as http://127.0.0.1:9090').optional(),
});

const webSchema = z
  .strictObject({
    url: template().check((ctx) => {
      // Placeholders stand for names; a stand-in keeps the URL check honest.
      const sample = ctx.value.replace(/\{\{[^{}]*\}\}/g, 'x');
      if (!/^https?:\/\/[^/\s]/.test(sample) || !URL.canParse(sample)) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `expected a URL (http:// or https://), got ${describeValue(ctx.value)}` });
      }
    }),
    path: z.string().check((ctx) => {
      try {
        parseJsonPath(ctx.value);
      } catch (err) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: err instanceof Error ? err.message : String(err) });
      }
    }),
    method: z.preprocess((m) => (typeof m === 'string' ? m.toUpperCase() : m), z.enum(['GET', 'POST'])).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  })
  .check((ctx) => {
    for (const key of Object.keys(ctx.value.headers ?? {})) {
      if (isReservedKey(key)) ctx.issues.push({ code: 'custom', input: key, path: ['headers', key], params: { at: 'key' }, message: reservedKeyMessage(key) });
    }
    if (ctx.value.body === undefined) return;
    if (ctx.value.method !== 'POST') ctx.issues.push({ code: 'custom', input: ctx.value.body, path: ['body'], message: 'a body needs method: POST' });
    for (const name of unknownPlaceholders(JSON.stringify(ctx.value.body) ?? '')) {
      ctx.issues.push({ code: 'custom', input: ctx.value.body, path: ['body'], message: `unknown placeholder {{${name}}}` });
    }
  });

const baselineRuleSchema = z.strictObject({
  maxRatio: finite.refine((n) => n > 0, { error: 'must be more than 0' }).optional(),
  maxDelta: finite.refine((n) => n >= 0, { error: 'must be 0 or more' }).optional(),
  maxDrop: finite.refine((n) => n >= 0, { error: 'must be 0 or more' }).optional(),
});

const checkSchema = z
  // Loose, so the check below can name an unknown key as a provider someone hoped for.
  .looseObject({
    name: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][\w.-]{0,62}$/, { error: 'must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit' }),
    min: finite.optional(),
    max: finite.optional(),
    baseline: baselineRuleSchema.optional(),
    prometheus: prometheusSchema.optional(),
    web: webSchema.optional(),
  })
  .check((ctx) => {
    const input = ctx.value as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!CHECK_KEYS.includes(key)) {
        ctx.issues.push({
          code: 'custom',
          input,
          path: [key],
          params: { at: 'key' },
          message: `unknown provider or key "${key}" (providers are ${PROVIDERS.join(', ')})`,
        });
      }
    }
    const { min, max, baseline, prometheus, web } = ctx.value;
    if (prometheus === undefined && web === undefined) {
      ctx.issues.push({ code: 'custom', input, params: { at: 'key' }, message: `needs one provider: ${PROVIDERS.join(' or ')}` });
    } else if (prometheus !== undefined && web !== undefined) {
      ctx.issues.push({ code: 'custom', input, path: ['web'], params: { at: 'key' }, message: 'a check reads one provider: prometheus or web, not both' });
    }
    if (min !== undefined && max !== undefined && min > max) {
      ctx.issues.push({ code: 'custom', input: max, path: ['max'], message: `must be at least min (${min}): no value could pass` });
    }
    const rules = baseline === undefined ? 0 : Object.values(baseline).filter((v) => v !== undefined).length;
    if (min === undefined && max === undefined && rules === 0) {
      ctx.issues.push({ code: 'custom', input, params: { at: 'key' }, message: 'needs a limit: min, max or baseline (maxRatio, maxDelta, maxDrop)' });
    }
  })
  .transform((c): CustomMetric => {
    const limits = {
      name: c.name,
      ...(c.min === undefined ? {} : { min: c.min }),
      ...(c.max === undefined ? {} : { max: c.max }),
      ...(c.baseline === undefined ? {} : { baseline: c.baseline }),
    };
    if (c.prometheus !== undefined) return { ...limits, prometheus: c.prometheus };
    const web = c.web as NonNullable<typeof c.web>;
    return {
      ...limits,
      web: {
        url: web.url,
        path: web.path,
        ...(web.method === undefined ? {} : { method: web.method }),
        ...(web.headers === undefined ? {} : { headers: { ...web.headers } }),
        ...(web.body === undefined ? {} : { body: web.body }),
      },
    };
  });

export const metricsSchema = z
  .array(checkSchema)
  .max(MAX_CUSTOM_METRICS)
  .check((ctx) => {
    const seen = new Set<string>();
    ctx.value.forEach((check, index) => {
      if (seen.has(check.name)) ctx.issues.push({ code: 'custom', input: check.name, path: [index, 'name'], message: `"${check.name}" names two checks` });
      seen.add(check.name);
    });
  });

export const consecutiveErrorLimitSchema = z.int().min(1).max(1000);

const prometheusSourceSchema = z.strictObject({
  prometheus: z.strictObject({ address: httpUrl('a URL such as http://127.0.0.1:9090').optional() }).nullable(),
});

/**
 * `analysis.source`: `router` (the default, left out of the policy data so
 * such a policy is the same data as before sources existed) or
 * `{ prometheus: { address } }`. Parsed by hand rather than as a zod union,
 * whose only message is "Invalid input": each mistake is named where it is.
 */
export const metricsSourceSchema = z.unknown().transform((input, ctx): MetricsSource | undefined => {
  if (input === 'router') return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    ctx.addIssue({ code: 'custom', input, message: `expected router or { prometheus: { address: http://... } }, got ${describeValue(input)}` });
    return z.NEVER;
  }
  const result = prometheusSourceSchema.safeParse(input, { error: messageFor });
  if (!result.success) {
    for (const issue of result.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  }
  // `prometheus:` with nothing under it: the worker's SAFEROLL_PROMETHEUS_URL.
  const address = result.data.prometheus?.address;
  return { prometheus: address === undefined ? {} : { address } };
});
