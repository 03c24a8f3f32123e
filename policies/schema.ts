// The zod schema of a policy as written in YAML, and its transform into the
// plain `Policy` the workflow runs. Validation reports every problem it finds
// with a path into the input (`steps.2.mirror.percent`); the loader turns the
// paths into file:line:col. The rules on step order are in step-order.ts, the
// wording of zod's own messages in schema-messages.ts.
//
// Policy reference (defaults in brackets):
//   name                      required, text
//   description               optional, text
//   slo                       required; at least one of latency.p95, latency.p99, errorRate
//     latency.p95, .p99       durations such as 250ms, 1s
//     errorRate               5xx / all requests: 1% or a fraction 0.01
//     abortRate               [5%] client hang-ups before an answer / (answers + hang-ups),
//                             when green has no blue to compare with (the watch window)
//     minRequests             [50] fewer samples in a window = inconclusive, never a pass
//   baseline                  [{}] green compared with blue over the same window
//     latencyRatio            green p95 <= ratio x blue p95; at least 1
//     errorRateDelta          green error rate <= blue's + delta: 0.5% or 0.005
//     abortRateDelta          [5%] green hang-up share <= blue's + delta (blue with minRequests)
//   analysis.interval         [5s] how often gates are measured during a bake; at least 100ms
//   analysis.controllerLossTimeout  [60s, or 3 x interval if longer] with no word from the
//                             controller for this long, the routing core puts blue back itself
//                             (a guard lease); at least 3 x interval and 1s, at most 24h; `off` = no lease
//   analysis.metrics          [none] custom checks (metrics-schema.ts): name, one provider
//                             (prometheus: {query, address?} or web: {url, path, method?, headers?, body?}),
//                             min, max, baseline {maxRatio, maxDelta, maxDrop}
//   analysis.consecutiveErrorLimit  [4] provider errors in a row that fail a custom check
//   analysis.source           [router] where the SLOs and baseline read their counters:
//                             router (its /metrics) or {prometheus: {address?}} (every replica,
//                             through Prometheus; analysis/prometheus-metric-source.ts)
//   steps                     a list of at most 100; each item is a map with exactly one key:
//     create: {}              green, from the start arguments; exactly once, first
//     smoke: {requests [5] 1..1000, path [/] starting with /, method [POST] any case,
//             body [none], headers [{}] text values, expectStatus [200] 100..599, timeout [5s]}
//                             direct requests to green; before any mirror or traffic step
//     mirror: {percent 1..50, for, compare}       copies of live traffic; before any traffic step;
//                                                 compare [none]: shadow comparison (compare-schema.ts): json {ignore,
//                                                 numeric {tolerance | relative}, labels}, bytes, status, maxMismatch,
//                                                 distribution {path, maxPsi}, minPairs [100]
//     traffic: {percent 1..100, for}              live traffic to green; never decreasing
//     approval: {timeout [none = wait forever]}   a manual gate
//     deleteBlue: {after [0s]}                    at most once, last, after a traffic step of 100;
//                                                 `after` is the watch window (green gated alone, blue kept)
//     (`for` is required and at least analysis.interval, so every bake is measured at least once;
//     an empty step such as `- create:` means all defaults)
//   onFailure.action          [rollback] what a failed gate does: rollback = blue 100% at once;
//                             pause = traffic stays where it is and the rollout waits for
//                             `saferoll rollback`, `promote --force` or `abort` (gates keep running)
//   onFailure.timeout         [1h] with pause only: no operator decision in this time = roll back
//   onFailure.keepGreen       [false] keep green (without traffic) after a rollback, to debug it
//   notifications             [none] webhook and slack targets (notifications-schema.ts)
// Durations: 500ms, 5s, 2m, 1h, 1m30s (a bare number is refused). Percents:
// whole numbers, 10 or "10%". Unknown keys are refused everywhere.

import { z } from 'zod';
import { isReservedKey, reservedKeyMessage } from '../shared/reserved-keys.js';
import {
  CONTROLLER_LOSS_INTERVALS,
  DEFAULT_CONTROLLER_LOSS_TIMEOUT_MS,
  MAX_CONTROLLER_LOSS_TIMEOUT_MS,
  MIN_CONTROLLER_LOSS_TIMEOUT_MS,
  defaultControllerLossTimeoutMs,
} from './controller-loss.js';
import { compareSchema } from './compare-schema.js';
import { DEFAULT_CONSECUTIVE_ERROR_LIMIT } from './custom-metric-limits.js';
import { consecutiveErrorLimitSchema, metricsSchema, metricsSourceSchema } from './metrics-schema.js';
import { notificationsSchema } from './notifications-schema.js';
import { DEFAULT_HOLD_TIMEOUT_MS } from './on-failure.js';
import { describeValue, messageFor, toProblems, type SchemaProblem } from './schema-messages.js';
import { stepOrderProblems, type IndexedStep, type StepOf } from './step-order.js';
import type { Policy, PolicyStepKind } from './types.js';
import { formatDuration, parseDuration, parsePercent, parseRate } from './units.js';

export type { SchemaProblem } from './schema-messages.js';

export type PolicyValidation = { ok: true; policy: Policy } | { ok: false; problems: SchemaProblem[] };

/** Validates parsed YAML (or JSON) data and turns it into a Policy. */
export function validatePolicy(data: unknown): PolicyValidation {
  const result = policySchema.safeParse(data, { error: messageFor });
  if (result.success) return { ok: true, policy: result.data };
  return { ok: false, problems: result.error.issues.flatMap(toProblems) };
}

// ---- field types ------------------------------------------------------------

const DEFAULT_SMOKE_TIMEOUT_MS = 5_000;
const DEFAULT_INTERVAL_MS = 5_000;
// Faster than this, a window holds too few requests to judge and the metrics
// endpoint is polled for nothing.
const MIN_INTERVAL_MS = 100;
/**
 * A rollout plan is a handful of steps; far more is a generated file gone
 * wrong. Each step also adds activities to the rollout's Temporal history.
 */
export const MAX_STEPS = 100;
const KINDS: readonly PolicyStepKind[] = ['create', 'smoke', 'mirror', 'traffic', 'approval', 'deleteBlue'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** A field written as text or a number and read by one of the unit parsers. */
function unitField(what: string, parse: (input: string | number) => number) {
  return z
    .union([z.string(), z.number()], {
      error: (issue) => (issue.input === undefined ? 'required' : `expected ${what}, got ${describeValue(issue.input)}`),
    })
    .transform((input, ctx) => {
      try {
        return parse(input);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    });
}

function duration(minMs = 0) {
  return unitField('a duration such as 500ms, 5s or 2m', parseDuration).refine((ms) => ms >= minMs, {
    error: minMs === 1 ? 'must be longer than 0s' : `must be at least ${formatDuration(minMs)}`,
  });
}

/** z.int() says "expected a number" for text; an author needs to hear "whole". */
function wholeNumber() {
  return z.int({
    // Only the type: range checks inherit this map and fall through to messageFor.
    error: (issue) => {
      if (issue.code !== 'invalid_type') return undefined;
      return issue.input === undefined ? 'required' : `expected a whole number, got ${describeValue(issue.input)}`;
    },
  });
}

const rate = unitField('a rate such as 1% or 0.01', parseRate);

function percent(max: number, why: string) {
  return unitField('a percent such as 10 or 10%', parsePercent).refine((p) => p >= 1 && p <= max, {
    error: `must be from 1 to ${max}%${why}`,
  });
}

/**
 * A map of text keyed by the author (smoke headers). zod's z.record drops a
 * `__proto__` key without a word and keeps `constructor`: names every object
 * already has are refused here, so the plain object this yields (the policy
 * is JSON data: it crosses Temporal as JSON) answers only to its own keys.
 */
function textMap() {
  return z.unknown().transform((input, ctx): Record<string, string> => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: 'custom', input, message: `expected a map, got ${describeValue(input)}` });
      return z.NEVER;
    }
    const map: Record<string, string> = {};
    for (const [key, value] of Object.entries(input)) {
      if (isReservedKey(key)) ctx.addIssue({ code: 'custom', input, path: [key], params: { at: 'key' }, message: reservedKeyMessage(key) });
      else if (typeof value !== 'string') ctx.addIssue({ code: 'custom', input: value, path: [key], message: `expected text, got ${describeValue(value)}` });
      else map[key] = value;
    }
    return map;
  });
}

/**
 * Data that survives JSON unchanged: the smoke body is sent as JSON and the
 * whole policy crosses Temporal as JSON, where .nan and .inf became null and
 * YAML's !!binary, !!set and !!timestamp values turned into something else.
 */
function jsonData() {
  return z.unknown().check((ctx) => {
    // Iterative: a deep body costs no stack.
    const pending: { value: unknown; path: (string | number)[] }[] = [{ value: ctx.value, path: [] }];
    while (pending.length > 0) {
      const { value, path } = pending.pop() as (typeof pending)[number];
      if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
      if (typeof value === 'number' && Number.isFinite(value)) continue;
      if (Array.isArray(value)) {
        value.forEach((item: unknown, i) => pending.push({ value: item, path: [...path, i] }));
        continue;
      }
      const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
      if (proto === Object.prototype || (typeof value === 'object' && proto === null)) {
        for (const [key, item] of Object.entries(value as object)) pending.push({ value: item, path: [...path, key] });
        continue;
      }
      const what =
        typeof value === 'number'
          ? String(value)
          : value instanceof Date
            ? 'a timestamp (!!timestamp)'
            : value instanceof Uint8Array
              ? 'binary data (!!binary)'
              : value instanceof Set
                ? 'a set (!!set)'
                : 'a value JSON has no form for';
      ctx.issues.push({ code: 'custom', input: value, path, message: `must be JSON data (text, numbers, true/false, null, lists and maps), got ${what}` });
    }
  });
}

// ---- sections -----------------------------------------------------------------

const sloSchema = z
  .strictObject({
    latency: z.strictObject({ p95: duration(1).optional(), p99: duration(1).optional() }).optional(),
    errorRate: rate.optional(),
    abortRate: rate.optional(),
    minRequests: wholeNumber().min(1).default(50),
  })
  .check((ctx) => {
    const { latency, errorRate } = ctx.value;
    if (latency?.p95 === undefined && latency?.p99 === undefined && errorRate === undefined) {
      // Without a limit every window would pass: that is no gate at all.
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: 'needs at least one limit: latency.p95, latency.p99 or errorRate',
        params: { at: 'key' },
      });
    }
  })
  .transform(({ latency, errorRate, abortRate, minRequests }): Policy['slo'] => ({
    latency: {
      ...(latency?.p95 === undefined ? {} : { p95Ms: latency.p95 }),
      ...(latency?.p99 === undefined ? {} : { p99Ms: latency.p99 }),
    },
    ...(errorRate === undefined ? {} : { errorRate }),
    // Absent stays absent: the default is applied where gates are read, as for policies from before the field.
    ...(abortRate === undefined ? {} : { abortRate }),
    minRequests,
  }));

const baselineSchema = z
  .strictObject({
    // Below 1 green would have to beat blue, which noise alone fails.
    latencyRatio: z.number().min(1).optional(),
    errorRateDelta: rate.optional(),
    abortRateDelta: rate.optional(),
  })
  .default(() => ({}));

/** A duration, or `off`. */
const controllerLossTimeout = z
  .union([z.string(), z.number()], { error: (issue) => `expected a duration such as 60s, or off, got ${describeValue(issue.input)}` })
  .transform((input, ctx): number | 'off' => {
    if (input === 'off') return 'off';
    try {
      const ms = parseDuration(input);
      if (ms >= MIN_CONTROLLER_LOSS_TIMEOUT_MS && ms <= MAX_CONTROLLER_LOSS_TIMEOUT_MS) return ms;
      ctx.addIssue({
        code: 'custom',
        message: `must be from ${formatDuration(MIN_CONTROLLER_LOSS_TIMEOUT_MS)} to ${formatDuration(MAX_CONTROLLER_LOSS_TIMEOUT_MS)}, or off`,
      });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${err instanceof Error ? err.message : String(err)} (or off)` });
    }
    return z.NEVER;
  });

const analysisSchema = z
  .strictObject({
    interval: duration(MIN_INTERVAL_MS).default(DEFAULT_INTERVAL_MS),
    controllerLossTimeout: controllerLossTimeout.optional(),
    metrics: metricsSchema.optional(),
    consecutiveErrorLimit: consecutiveErrorLimitSchema.optional(),
    source: metricsSourceSchema.optional(),
  })
  .check((ctx) => {
    if (ctx.value.consecutiveErrorLimit !== undefined && (ctx.value.metrics ?? []).length === 0) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.consecutiveErrorLimit,
        path: ['consecutiveErrorLimit'],
        message: 'applies only with metrics (custom checks)',
      });
    }
  })
  .check((ctx) => {
    const { interval, controllerLossTimeout: timeout } = ctx.value;
    if (typeof timeout !== 'number' || timeout >= CONTROLLER_LOSS_INTERVALS * interval) return;
    ctx.issues.push({
      code: 'custom',
      input: timeout,
      path: ['controllerLossTimeout'],
      message: `must be at least ${CONTROLLER_LOSS_INTERVALS} × analysis.interval (${formatDuration(CONTROLLER_LOSS_INTERVALS * interval)}): the controller looks at green once per interval, so a shorter timeout guards no better and puts blue back on an ordinary pause`,
    });
  })
  .transform(({ interval, controllerLossTimeout: timeout, metrics, consecutiveErrorLimit, source }): Policy['analysis'] => ({
    intervalMs: interval,
    ...(source === undefined ? {} : { source }),
    controllerLossTimeoutMs: timeout ?? defaultControllerLossTimeoutMs(interval),
    // Left out without checks, so such a policy is the same data as before custom checks existed.
    ...(metrics === undefined || metrics.length === 0 ? {} : { metrics, consecutiveErrorLimit: consecutiveErrorLimit ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT }),
  }))
  .default(() => ({ intervalMs: DEFAULT_INTERVAL_MS, controllerLossTimeoutMs: DEFAULT_CONTROLLER_LOSS_TIMEOUT_MS }));

const onFailureSchema = z
  .strictObject({
    action: z.enum(['rollback', 'pause']).optional(),
    keepGreen: z.boolean().default(false),
    timeout: duration(1).optional(),
  })
  .check((ctx) => {
    if (ctx.value.timeout !== undefined && ctx.value.action !== 'pause') {
      ctx.issues.push({ code: 'custom', input: ctx.value.timeout, path: ['timeout'], message: 'applies only with action: pause (a rollback does not wait)' });
    }
  })
  // `rollback` is the default and stays implicit, as in policies written before `action` existed.
  .transform(({ action, keepGreen, timeout }): Policy['onFailure'] =>
    action === 'pause' ? { action, keepGreen, timeoutMs: timeout ?? DEFAULT_HOLD_TIMEOUT_MS } : { ...(action === undefined ? {} : { action }), keepGreen },
  )
  .default(() => ({ keepGreen: false }));

// ---- steps --------------------------------------------------------------------

const stepBodySchemas: { [K in PolicyStepKind]: z.ZodType<StepOf<K>, unknown> } = {
  create: z.strictObject({}).transform(() => ({ kind: 'create' as const })),
  smoke: z
    .strictObject({
      requests: wholeNumber().min(1).max(1000).default(5),
      path: z.string().startsWith('/', { error: 'must start with /' }).default('/'),
      method: z.preprocess((m) => (typeof m === 'string' ? m.toUpperCase() : m), z.enum(METHODS)).default('POST'),
      body: jsonData().optional(),
      headers: textMap().default(() => ({})),
      expectStatus: wholeNumber().min(100).max(599).default(200),
      timeout: duration(1).default(DEFAULT_SMOKE_TIMEOUT_MS),
    })
    .transform(({ body, timeout, ...rest }) => ({
      kind: 'smoke' as const,
      requests: rest.requests,
      path: rest.path,
      method: rest.method,
      ...(body === undefined ? {} : { body }),
      headers: rest.headers,
      expectStatus: rest.expectStatus,
      timeoutMs: timeout,
    })),
  mirror: z
    .strictObject({ percent: percent(50, ' (the router mirrors at most 50%)'), for: duration(1), compare: compareSchema.optional() })
    // No compare, no key: such a step is the same data as before shadow comparison existed.
    .transform((s) => ({ kind: 'mirror' as const, percent: s.percent, forMs: s.for, ...(s.compare === undefined ? {} : { compare: s.compare }) })),
  traffic: z
    .strictObject({ percent: percent(100, ''), for: duration(1), compare: z.unknown().optional() })
    .check((ctx) => {
      if (ctx.value.compare === undefined) return;
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.compare,
        path: ['compare'],
        params: { at: 'key' },
        message:
          "compare belongs on a mirror step: a traffic step's green answers reach clients, and there is no blue answer to the same request to compare with",
      });
    })
    .transform((s) => ({ kind: 'traffic' as const, percent: s.percent, forMs: s.for })),
  approval: z
    .strictObject({ timeout: duration(1).optional() })
    .transform((s) => ({ kind: 'approval' as const, ...(s.timeout === undefined ? {} : { timeoutMs: s.timeout }) })),
  deleteBlue: z.strictObject({ after: duration().default(0) }).transform((s) => ({ kind: 'deleteBlue' as const, afterMs: s.after })),
};

/**
 * Each item is parsed on its own so that one bad step does not hide the
 * others, and the order rules still run over the steps that did parse.
 */
const stepsSchema = z
  .array(z.unknown())
  .check((ctx) => {
    if (ctx.value.length <= MAX_STEPS) return;
    // Checked before any step is parsed: a runaway list costs nothing more.
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      params: { at: 'key' },
      message: `a policy has at most ${MAX_STEPS} steps, found ${ctx.value.length}`,
    });
  })
  .transform((items, ctx) => {
    const parsed: IndexedStep[] = [];
    items.forEach((item, index) => {
      const kind = stepKindOf(item, index, ctx);
      if (kind === undefined || !isMap(item)) return;
      // `- create:` leaves the value empty (null): it means "all defaults".
      const result = stepBodySchemas[kind].safeParse(item[kind] ?? {}, { error: messageFor });
      if (result.success) parsed.push({ index, step: result.data });
      else for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: [index, kind, ...issue.path] });
    });
    for (const problem of stepOrderProblems(parsed, items.length, parsed.length === items.length)) {
      ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path, input: items });
    }
    return parsed.map(({ step }) => step);
  });

/** The one key of a step item, or undefined after reporting why there is none. */
function stepKindOf(item: unknown, index: number, ctx: z.core.$RefinementCtx<unknown[]>): PolicyStepKind | undefined {
  const list = KINDS.join(', ');
  if (!isMap(item)) {
    ctx.addIssue({ code: 'custom', path: [index], input: item, message: `expected a step (a map with one key: ${list}), got ${describeValue(item)}` });
    return undefined;
  }
  const keys = Object.keys(item);
  if (keys.length !== 1) {
    const message =
      keys.length === 0
        ? `a step needs one key: ${list}`
        : `a step has exactly one key, found ${keys.length} (${keys.join(', ')}): give each its own "- " item`;
    ctx.addIssue({ code: 'custom', path: [index], input: item, message });
    return undefined;
  }
  const key = keys[0] ?? '';
  if (!(KINDS as readonly string[]).includes(key)) {
    ctx.addIssue({ code: 'custom', path: [index, key], input: item, params: { at: 'key' }, message: `unknown step "${key}" (steps are ${list})` });
    return undefined;
  }
  return key as PolicyStepKind;
}

// ---- the policy -----------------------------------------------------------------

const policySchema = z
  .strictObject({
    name: z.string().trim().min(1),
    description: z.string().optional(),
    slo: sloSchema,
    baseline: baselineSchema,
    analysis: analysisSchema,
    steps: stepsSchema,
    onFailure: onFailureSchema,
    notifications: notificationsSchema.optional(),
  })
  .check((ctx) => {
    // A bake shorter than one interval would end before its gate is ever measured.
    const { intervalMs } = ctx.value.analysis;
    ctx.value.steps.forEach((step, index) => {
      if ((step.kind === 'mirror' || step.kind === 'traffic') && step.forMs < intervalMs) {
        ctx.issues.push({
          code: 'custom',
          input: step,
          path: ['steps', index, step.kind, 'for'],
          message: `must be at least analysis.interval (${formatDuration(intervalMs)}), or the gate is never measured`,
        });
      }
    });
  })
  .transform((p): Policy => ({
    name: p.name,
    ...(p.description === undefined ? {} : { description: p.description }),
    slo: p.slo,
    baseline: p.baseline,
    analysis: p.analysis,
    steps: p.steps,
    onFailure: p.onFailure,
    // Left out when empty, so a policy without notifications is the same data as before they existed.
    ...(p.notifications === undefined || p.notifications.length === 0 ? {} : { notifications: p.notifications }),
  }));

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
