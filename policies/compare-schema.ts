// The schema of a mirror step's `compare` (shadow comparison): what the
// router compares (json, bytes, status, a score's distribution) and the
// gate's limits on it (maxMismatch, distribution.maxPsi, minPairs).
// Everything the router would refuse is refused here first, with a path
// the loader turns into file:line:col.
import { z } from 'zod';
import { parseJsonPath } from '../shared/json-path.js';
import { describeValue } from './schema-messages.js';
import type { MirrorCompare } from './types.js';
import { parseRate } from './units.js';

/** Fewer compared pairs than this in a bake is Inconclusive (policy `minPairs` default). */
export const DEFAULT_MIN_PAIRS = 100;

const jsonPath = z.string().check((ctx) => {
  try {
    parseJsonPath(ctx.value);
  } catch (err) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: (err as Error).message });
  }
});

const rate = z
  .union([z.string(), z.number()], {
    error: (issue) => (issue.input === undefined ? 'required' : `expected a rate such as 1% or 0.01, got ${describeValue(issue.input)}`),
  })
  .transform((input, ctx) => {
    try {
      return parseRate(input);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const nonNegative = z.number().refine((n) => Number.isFinite(n) && n >= 0, { error: 'must be a number >= 0' });

const numericSchema = z
  .strictObject({ tolerance: nonNegative.optional(), relative: rate.optional() })
  .check((ctx) => {
    const { tolerance, relative } = ctx.value;
    if ((tolerance === undefined) === (relative === undefined)) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: 'give one of tolerance (absolute, e.g. 0.01) or relative (e.g. 1%)' });
    }
  })
  .transform(({ tolerance, relative }) => (tolerance !== undefined ? { tolerance } : { relative: relative ?? 0 }));

export const compareSchema = z
  .strictObject({
    json: z
      .strictObject({
        ignore: z.array(jsonPath).max(64).default([]),
        numeric: numericSchema.optional(),
        labels: z.array(jsonPath).max(64).default([]),
      })
      .optional(),
    bytes: z.boolean().optional(),
    status: z.boolean().optional(),
    maxMismatch: rate.optional(),
    distribution: z.strictObject({ path: jsonPath, maxPsi: nonNegative }).optional(),
    minPairs: z.int({ error: 'expected a whole number' }).min(1).default(DEFAULT_MIN_PAIRS),
  })
  .check((ctx) => {
    const { json, bytes, status, maxMismatch, distribution } = ctx.value;
    const issue = (path: string[], message: string, at: 'key' | 'value' = 'value'): void => {
      ctx.issues.push({ code: 'custom', input: ctx.value, path, message, ...(at === 'key' ? { params: { at } } : {}) });
    };
    if (json && bytes) issue(['bytes'], 'choose json or bytes, not both');
    const judgesPairs = json !== undefined || bytes === true || status === true;
    if (judgesPairs && maxMismatch === undefined) issue([], 'needs maxMismatch: the share of compared pairs that may disagree, e.g. 1%', 'key');
    if (!judgesPairs && maxMismatch !== undefined) issue(['maxMismatch'], 'applies only with json, bytes or status: true (nothing else can mismatch)');
    if (!judgesPairs && distribution === undefined) issue([], 'compares nothing: set json, bytes, status: true or distribution', 'key');
  })
  .transform(({ json, bytes, status, maxMismatch, distribution, minPairs }): MirrorCompare => ({
    spec: {
      ...(json === undefined ? {} : { json: { ignore: json.ignore, labels: json.labels, ...(json.numeric === undefined ? {} : { numeric: json.numeric }) } }),
      ...(bytes === undefined ? {} : { bytes }),
      ...(status === undefined ? {} : { status }),
      ...(distribution === undefined ? {} : { distribution: { path: distribution.path } }),
    },
    ...(maxMismatch === undefined ? {} : { maxMismatch }),
    ...(distribution === undefined ? {} : { maxPsi: distribution.maxPsi }),
    minPairs,
  }));
