// A mirror step's `compare` (shadow comparison): the issue's example parses
// into the router's spec and the gate's limits, and every mistake is refused
// at its file:line:col.
import { describe, expect, test } from 'vitest';
import { describePlan } from '../../policies/describe.js';
import { parsePolicy } from '../../policies/loader.js';
import { problemsOf } from '../support/policy-problems.js';

/** A policy whose step 2 (line 7) is a mirror step with `compare` lines indented under it. */
const policy = (compare: string[], step = 'mirror'): string =>
  [
    'name: t',
    'slo: { errorRate: 1% }',
    'steps:',
    '  - create: {}',
    `  - ${step}:`,
    '      percent: 10',
    '      for: 2m',
    ...compare.map((l) => `      ${l}`),
    '  - traffic: { percent: 100, for: 1m }',
    '',
  ].join('\n');

const ISSUE_EXAMPLE = [
  'compare:',
  '  json:',
  "    ignore: ['$.model_version', '$.request_id']",
  '    numeric: { tolerance: 0.01 }',
  "    labels: ['$.label']",
  '  maxMismatch: 1%',
  "  distribution: { path: '$.score', maxPsi: 0.2 }",
  '  minPairs: 100',
];

describe('mirror compare', () => {
  test("the issue's example parses into the router's spec and the gate's limits", () => {
    const parsed = parsePolicy(policy(ISSUE_EXAMPLE), 'p.yaml');
    expect(parsed.steps[1]).toStrictEqual({
      kind: 'mirror',
      percent: 10,
      forMs: 120_000,
      compare: {
        spec: {
          json: { ignore: ['$.model_version', '$.request_id'], labels: ['$.label'], numeric: { tolerance: 0.01 } },
          distribution: { path: '$.score' },
        },
        maxMismatch: 0.01,
        maxPsi: 0.2,
        minPairs: 100,
      },
    });
    expect(describePlan(parsed)).toContain('mirror 10% 2m (compare mismatch≤1% PSI≤0.2, min 100 pairs) →');
  });

  test('relative tolerance, status and bytes; minPairs defaults to 100', () => {
    const relative = parsePolicy(policy(['compare: { json: { numeric: { relative: 2% } }, status: true, maxMismatch: 0.5% }']), 'p.yaml');
    expect(relative.steps[1]).toMatchObject({
      compare: { spec: { json: { ignore: [], labels: [], numeric: { relative: 0.02 } }, status: true }, maxMismatch: 0.005, minPairs: 100 },
    });
    const bytes = parsePolicy(policy(['compare: { bytes: true, maxMismatch: 0, minPairs: 20 }']), 'p.yaml');
    expect(bytes.steps[1]).toMatchObject({ compare: { spec: { bytes: true }, maxMismatch: 0, minPairs: 20 } });
  });

  test('a mirror step without compare is the same data as before it existed', () => {
    expect(parsePolicy(policy([]), 'p.yaml').steps[1]).toStrictEqual({ kind: 'mirror', percent: 10, forMs: 120_000 });
  });

  test.each<[string, string[], string[]]>([
    [
      'an invalid JSON path',
      ['compare:', '  json: { ignore: [model_version] }', '  maxMismatch: 1%'],
      ['p.yaml:9:26: steps.1.mirror.compare.json.ignore.0: "model_version" is not a JSON path: start with $, e.g. $.p95 or $.data[0].value'],
    ],
    [
      'an invalid label path',
      ['compare:', "  json: { labels: ['$.a..b'] }", '  maxMismatch: 1%'],
      [`p.yaml:9:26: steps.1.mirror.compare.json.labels.0: JSON path "$.a..b": cannot read from "..b" (use .key, [0] or ['key'])`],
    ],
    [
      'a negative tolerance',
      ['compare:', '  json: { numeric: { tolerance: -0.01 } }', '  maxMismatch: 1%'],
      ['p.yaml:9:39: steps.1.mirror.compare.json.numeric.tolerance: must be a number >= 0'],
    ],
    ['maxMismatch over 100%', ['compare: { status: true, maxMismatch: 150% }'], ['p.yaml:8:45: steps.1.mirror.compare.maxMismatch: 150% is more than 100%']],
    [
      'both tolerance and relative',
      ['compare: { json: { numeric: { tolerance: 1, relative: 1% } }, maxMismatch: 1% }'],
      ['p.yaml:8:35: steps.1.mirror.compare.json.numeric: give one of tolerance (absolute, e.g. 0.01) or relative (e.g. 1%)'],
    ],
    ['json with bytes', ['compare: { json: {}, bytes: true, maxMismatch: 1% }'], ['p.yaml:8:35: steps.1.mirror.compare.bytes: choose json or bytes, not both']],
    [
      'a comparison without maxMismatch',
      ['compare: { json: {} }'],
      ['p.yaml:8:7: steps.1.mirror.compare: needs maxMismatch: the share of compared pairs that may disagree, e.g. 1%'],
    ],
    [
      'a comparison of nothing',
      ['compare: { minPairs: 10 }'],
      ['p.yaml:8:7: steps.1.mirror.compare: compares nothing: set json, bytes, status: true or distribution'],
    ],
    [
      'a negative maxPsi',
      ["compare: { distribution: { path: '$.score', maxPsi: -1 } }"],
      ['p.yaml:8:59: steps.1.mirror.compare.distribution.maxPsi: must be a number >= 0'],
    ],
  ])('refuses %s at its file:line:col', (_name, compare, expected) => {
    expect(problemsOf(policy(compare))).toEqual(expected);
  });

  test('refuses compare on a traffic step, saying where it belongs', () => {
    expect(problemsOf(policy(['compare: { status: true, maxMismatch: 1% }'], 'traffic'))).toEqual([
      "p.yaml:8:7: steps.1.traffic.compare: compare belongs on a mirror step: a traffic step's green answers reach clients, and there is no blue answer to the same request to compare with",
    ]);
  });
});
