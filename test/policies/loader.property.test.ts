// Property tests of the policy loader: whatever text comes in (YAML-ish
// junk, arbitrary YAML documents, policy-shaped data with wrong values, the
// shipped policies cut and spliced at random), the loader either returns a
// policy that is plain JSON data (it travels in a workflow's input) or
// throws a PolicyError whose every line is `file:line:col: ...` inside the
// file; never a TypeError. And rewriting a shipped policy without changing
// its meaning (layout, quoting, key order, comments, equivalent units)
// loads the very same policy. fast-check prints the seed of a failure.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { parsePolicy } from '../../policies/loader.js';
import { PolicyError } from '../../policies/policy-error.js';
import type { Policy } from '../../policies/types.js';
import { RESERVED_KEYS } from '../../shared/reserved-keys.js';

const policiesDir = fileURLToPath(new URL('../../policies/', import.meta.url));
const shipped = ['safe-rollout.yaml', 'quick.yaml', 'model-quality.yaml', 'shadow-compare.yaml'].map((file) => readFileSync(`${policiesDir}${file}`, 'utf8'));
const RUNS = Number(process.env.SAFEROLL_PROPERTY_RUNS ?? 300);

/** Loads `text` or checks that the refusal is a clean, placed PolicyError; returns the policy when it loads. */
function loadOrCleanRefusal(text: string): Policy | undefined {
  let policy: Policy;
  try {
    policy = parsePolicy(text, 'p.yaml');
  } catch (err) {
    if (!(err instanceof PolicyError)) throw new Error(`not a PolicyError: ${String(err)}\n--- text ---\n${text}`, { cause: err });
    const lines = text.split(/\r\n|\n|\r/).length;
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.total).toBeGreaterThanOrEqual(err.problems.length - 1);
    for (const p of err.problems) {
      expect(p.file).toBe('p.yaml');
      expect(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines + 1, `line ${p.line} of ${lines}`).toBe(true);
      expect(Number.isInteger(p.col) && p.col >= 1, `col ${p.col}`).toBe(true);
      expect(p.message.length).toBeGreaterThan(0);
    }
    expect(err.message.split('\n')).toHaveLength(err.problems.length);
    for (const line of err.message.split('\n')) expect(line).toMatch(/^p\.yaml:\d+:\d+: \S/);
    return undefined;
  }
  // Accepted: plain JSON data, a plan that starts with create.
  expect(JSON.parse(JSON.stringify(policy))).toStrictEqual(policy);
  expect(policy.steps[0]).toEqual({ kind: 'create' });
  return policy;
}

// ---- generators ---------------------------------------------------------------

const token = fc.constantFrom(
  ...['name', 'slo', 'steps', 'latency', 'p95', 'errorRate', 'minRequests', 'baseline', 'analysis', 'interval', 'onFailure', 'keepGreen'],
  ...['create', 'smoke', 'mirror', 'traffic', 'approval', 'deleteBlue', 'percent', 'for', 'after', 'headers', 'body', 'requests'],
  ...[
    ':',
    ': ',
    ' ',
    '\n',
    '\n  ',
    '\n    ',
    '- ',
    '  - ',
    '{',
    '}',
    '[',
    ']',
    ',',
    '&a ',
    '*a',
    '!!str ',
    '!!binary ',
    '!!map ',
    '!custom ',
    '#',
    '"',
    "'",
    '|',
    '>-',
    '?',
    '---\n',
    '...\n',
    '%YAML 1.2\n',
    '\t',
    '\r\n',
  ],
  ...[
    '~',
    'null',
    'true',
    'yes',
    '1e400',
    '-1e400',
    '.nan',
    '.inf',
    '-.inf',
    '!!set ',
    '!!timestamp ',
    '!!float ',
    '? ',
    '0x1F',
    '0o17',
    '1_000',
    '-1',
    '0',
    '2.5',
    '10%',
    '250%',
    '5s',
    '1m30s',
    '0ms',
    '-5s',
    '500ms',
    '1h',
    'é',
    '日本',
    '\u0000',
    '\ufeff',
    '\u2028',
  ],
  ...RESERVED_KEYS,
  '<<',
);
const yamlish = fc.array(token, { maxLength: 40 }).map((parts) => parts.join(''));

const anyValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, 0, -1, 2.5, 1e21, 100, 101, 50, 51, '', '5s', '10%', 'x', '__proto__', [], {}),
  fc.string({ maxLength: 10 }),
  fc.jsonValue({ maxDepth: 3 }),
);
/** Policy-shaped data with any value anywhere, and sometimes a key that is reserved or unknown. */
const policyShaped = fc
  .record(
    {
      name: anyValue,
      slo: fc.oneof(
        fc.record(
          { latency: fc.oneof(fc.record({ p95: anyValue, p99: anyValue }, { requiredKeys: [] }), anyValue), errorRate: anyValue, minRequests: anyValue },
          { requiredKeys: [] },
        ),
        anyValue,
      ),
      baseline: fc.oneof(fc.record({ latencyRatio: anyValue, errorRateDelta: anyValue }, { requiredKeys: [] }), anyValue),
      analysis: fc.oneof(fc.record({ interval: anyValue }), anyValue),
      steps: fc.oneof(
        fc.array(
          fc.oneof(
            fc.constant({ create: {} }),
            fc.record({
              smoke: fc.oneof(
                fc.record(
                  {
                    requests: anyValue,
                    path: anyValue,
                    method: anyValue,
                    body: anyValue,
                    headers: fc.dictionary(fc.oneof(fc.constantFrom(...RESERVED_KEYS), fc.string({ maxLength: 6 })), anyValue, { maxKeys: 3 }),
                    expectStatus: anyValue,
                    timeout: anyValue,
                  },
                  { requiredKeys: [] },
                ),
                anyValue,
              ),
            }),
            fc.record({ mirror: fc.oneof(fc.record({ percent: anyValue, for: anyValue }, { requiredKeys: [] }), anyValue) }),
            fc.record({ traffic: fc.oneof(fc.record({ percent: anyValue, for: anyValue }, { requiredKeys: [] }), anyValue) }),
            fc.record({ approval: fc.oneof(fc.record({ timeout: anyValue }, { requiredKeys: [] }), anyValue) }),
            fc.record({ deleteBlue: fc.oneof(fc.record({ after: anyValue }, { requiredKeys: [] }), anyValue) }),
            anyValue,
          ),
          { maxLength: 8 },
        ),
        anyValue,
      ),
      onFailure: fc.oneof(fc.record({ keepGreen: anyValue }), anyValue),
    },
    { requiredKeys: [] },
  )
  .map((data) => stringify(data));

type Edit = {
  kind: 'delete-line' | 'duplicate-line' | 'swap-lines' | 'insert' | 'replace-value' | 'indent' | 'truncate';
  at: number;
  other: number;
  text: string;
};
const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('delete-line', 'duplicate-line', 'swap-lines', 'insert', 'replace-value', 'indent', 'truncate'),
  at: fc.nat(),
  other: fc.nat(),
  text: fc.oneof(token, fc.string({ maxLength: 6 })),
});

/** A shipped policy cut and spliced: lines dropped, doubled, swapped, values replaced, junk inserted. */
function mutated(text: string, edits: Edit[]): string {
  let lines = text.split('\n');
  for (const e of edits) {
    const i = e.at % lines.length;
    const j = e.other % lines.length;
    const line = lines[i] ?? '';
    switch (e.kind) {
      case 'delete-line':
        lines.splice(i, 1);
        break;
      case 'duplicate-line':
        lines.splice(i, 0, line);
        break;
      case 'swap-lines':
        [lines[i], lines[j]] = [lines[j] ?? '', line];
        break;
      case 'insert': {
        const at = e.other % (line.length + 1);
        lines[i] = line.slice(0, at) + e.text + line.slice(at);
        break;
      }
      case 'replace-value':
        lines[i] = line.replace(/(:\s*)([^\s{}[\],#][^{}[\],#]*)/, (_, colon: string) => `${colon}${e.text}`);
        break;
      case 'indent':
        lines[i] = ' '.repeat(e.other % 5) + line.trimStart();
        break;
      case 'truncate':
        lines = lines
          .join('\n')
          .slice(0, e.other % (text.length + 1))
          .split('\n');
        break;
    }
    if (lines.length === 0) lines = [''];
  }
  return lines.join('\n');
}

/** Where each scalar value of a shipped policy is (`key: value`, in block or flow style). */
function valueSpans(text: string): { start: number; end: number }[] {
  return [...text.matchAll(/\w: *([^\s,{}[\]#][^,{}[\]#\n]*)/g)].map((m) => {
    const start = (m.index ?? 0) + m[0].length - (m[1] ?? '').length;
    return { start, end: start + (m[1] ?? '').trimEnd().length };
  });
}

/** YAML scalars of every kind, the ones JSON has no form for included. */
const scalar = fc.constantFrom(
  ...['~', 'null', 'true', 'yes', '0', '-1', '2.5', '1e400', '-1e400', '.nan', '.inf', '-.inf', '0x1F', '0o17', '1_000', '""', "'x'"],
  ...['!!binary aGk=', '!!set { a }', '!!timestamp 2001-12-14', '!!str 5', '!!float 1', '!!int "3"', '[]', '{}', '[.nan]', '{ a: .inf }', '{ ? [a] : 1 }'],
  ...['10%', '250%', '5s', '-5s', '0ms', '1m30s', '__proto__', 'constructor', 'é', '*nope', '&a 1'],
);
const junkValue = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(token, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')) },
);

/** A shipped policy with one value (any one, the smoke body's included) replaced by a YAML scalar or junk. */
const oneValueReplaced = fc.tuple(fc.constantFrom(...shipped), fc.nat(), junkValue).map(([text, at, value]) => {
  const spans = valueSpans(text);
  const span = spans[at % spans.length] ?? { start: 0, end: 0 };
  return text.slice(0, span.start) + value + text.slice(span.end);
});

// ---- meaning-preserving rewrites -------------------------------------------------

const DURATION_KEYS = new Set(['p95', 'p99', 'interval', 'for', 'after', 'timeout']);

/** The same duration in other words: 2m -> 120s or 120000ms. */
function durationInOtherWords(value: string, unit: 'ms' | 's'): string {
  const ms = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)].reduce(
    (sum, [, n, u]) => sum + Number(n) * { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 }[u as 'h' | 'm' | 's' | 'ms'],
    0,
  );
  return unit === 's' && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Rewrites durations and percents into equivalent forms and reorders map keys, recursively. */
function reworded(value: unknown, choices: { unit: 'ms' | 's'; percentSign: boolean; reverse: boolean }, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => reworded(item, choices));
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => [k, reworded(v, choices, k)] as const);
    // The smoke body is sent as it is: leave its key order alone.
    return Object.fromEntries(choices.reverse && key !== 'body' ? entries.reverse() : entries);
  }
  if (typeof value === 'string' && DURATION_KEYS.has(key)) return durationInOtherWords(value, choices.unit);
  if (key === 'percent' && (typeof value === 'number' || typeof value === 'string'))
    return choices.percentSign ? `${String(value).replace('%', '')}%` : Number(String(value).replace('%', ''));
  return value;
}

const rewrite = fc.record({
  unit: fc.constantFrom<'ms' | 's'>('ms', 's'),
  percentSign: fc.boolean(),
  reverse: fc.boolean(),
  collectionStyle: fc.constantFrom<'any' | 'block' | 'flow'>('any', 'block', 'flow'),
  indent: fc.integer({ min: 1, max: 8 }),
  defaultStringType: fc.constantFrom<'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'>('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
  comment: fc.constantFrom('', '  # a comment', ' #'),
});

describe('the policy loader under arbitrary input', () => {
  test('YAML-ish junk: a policy or a placed PolicyError, never a crash', () => {
    fc.assert(
      fc.property(yamlish, (text) => void loadOrCleanRefusal(text)),
      { numRuns: RUNS },
    );
  });

  test('policy-shaped YAML with any value anywhere: the same', () => {
    fc.assert(
      fc.property(policyShaped, (text) => void loadOrCleanRefusal(text)),
      { numRuns: RUNS },
    );
  });

  test('the shipped policies cut and spliced at random: the same', () => {
    const cases = fc.tuple(fc.constantFrom(...shipped), fc.array(edit, { minLength: 1, maxLength: 4 }));
    fc.assert(
      fc.property(cases, ([text, edits]) => void loadOrCleanRefusal(mutated(text, edits))),
      { numRuns: RUNS },
    );
  });

  test('the shipped policies with any one value replaced by junk: the same', () => {
    fc.assert(
      fc.property(oneValueReplaced, (text) => void loadOrCleanRefusal(text)),
      { numRuns: RUNS },
    );
  });

  test('the shipped policies rewritten without changing their meaning load as the same policy', () => {
    fc.assert(
      fc.property(fc.constantFrom(...shipped), rewrite, (text, how) => {
        const original = parsePolicy(text, 'p.yaml');
        const data = reworded(parse(text), how);
        const rewritten = stringify(data, { collectionStyle: how.collectionStyle, indent: how.indent, defaultStringType: how.defaultStringType })
          .split('\n')
          .map((line) =>
            line.trim() === '' || line.includes('#') || how.defaultStringType !== 'PLAIN' || how.collectionStyle === 'flow' ? line : `${line}${how.comment}`,
          )
          .join('\n');
        expect(loadOrCleanRefusal(rewritten)).toStrictEqual(original);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});
