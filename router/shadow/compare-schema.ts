// The admin API's (and the state file's) schema of a shadow comparison spec:
// `PATCH /v1/endpoints/{e}` with `mirrorCompare`. Validated when it changes,
// with the comparator's own rules (shared/shadow-compare.ts), so a spec the
// router holds always compiles.
import { z } from 'zod';
import { parseJsonPath } from '../../shared/json-path.js';
import { compareSpecProblem, type ShadowCompareSpec } from '../../shared/shadow-compare.js';

const jsonPath = z
  .string()
  .max(256)
  .check((ctx) => {
    try {
      parseJsonPath(ctx.value);
    } catch (err) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: (err as Error).message });
    }
  });

const nonNegative = z.number().min(0, 'must be >= 0');

export const compareSpec = z
  .strictObject({
    status: z.boolean().optional(),
    json: z
      .strictObject({
        ignore: z.array(jsonPath).max(64).default([]),
        numeric: z.union([z.strictObject({ tolerance: nonNegative }), z.strictObject({ relative: nonNegative })]).optional(),
        labels: z.array(jsonPath).max(64).default([]),
      })
      .optional(),
    bytes: z.boolean().optional(),
    distribution: z.strictObject({ path: jsonPath }).optional(),
  })
  .check((ctx) => {
    const problem = compareSpecProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, path: problem.field ? problem.field.split('.') : [], message: problem.message });
  });

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;
type _CompareSpecMatches = Holds<Same<z.output<typeof compareSpec>, ShadowCompareSpec>>;
