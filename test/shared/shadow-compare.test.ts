import { describe, expect, it } from 'vitest';
import { ShadowComparator, compareSpecProblem, type ShadowAnswer, type ShadowCompareSpec } from '../../shared/shadow-compare.js';

const ok = (body: unknown, status = 200): ShadowAnswer => ({ status, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });

const json = (numeric?: { tolerance: number } | { relative: number }, ignore: string[] = [], labels: string[] = []): ShadowCompareSpec => ({
  json: { ignore, labels, numeric },
});

describe('ShadowComparator: json', () => {
  it('matches identical answers', () => {
    const c = new ShadowComparator(json());
    const answer = { label: 'cat', score: 0.91, top: [{ k: 'a', p: 0.5 }] };
    expect(c.compare(ok(answer), ok(answer))).toEqual({ result: 'match', numericDifference: undefined, scores: undefined });
  });

  it('matches numbers within an absolute tolerance and reports the largest difference', () => {
    const c = new ShadowComparator(json({ tolerance: 0.01 }));
    const verdict = c.compare(ok({ a: 0.5, b: [1, 2] }), ok({ a: 0.505, b: [1.008, 2] }));
    expect(verdict.result).toBe('match');
    expect(verdict.numericDifference).toBeCloseTo(0.008, 12);
  });

  it('mismatches numeric drift beyond the tolerance, naming the path and both values', () => {
    const c = new ShadowComparator(json({ tolerance: 0.01 }));
    const verdict = c.compare(ok({ score: 0.91 }), ok({ score: 0.42 }));
    expect(verdict).toMatchObject({ result: 'mismatch', reason: '$.score: 0.91 vs 0.42 (tolerance 0.01)' });
    expect(verdict.numericDifference).toBeCloseTo(0.49, 12);
  });

  it('judges a relative tolerance against the larger magnitude', () => {
    const c = new ShadowComparator(json({ relative: 0.01 }));
    expect(c.compare(ok({ v: 1000 }), ok({ v: 1009 })).result).toBe('match');
    expect(c.compare(ok({ v: 1000 }), ok({ v: 1011 })).result).toBe('mismatch');
    expect(c.compare(ok({ v: 0.001 }), ok({ v: 0.0011 })).result).toBe('mismatch');
  });

  it('without numeric, numbers must be equal', () => {
    const c = new ShadowComparator(json());
    expect(c.compare(ok({ v: 1 }), ok({ v: 1.0000001 }))).toMatchObject({ result: 'mismatch', reason: '$.v: 1 vs 1.0000001' });
  });

  it('leaves ignored paths out, including keys only one side has', () => {
    const c = new ShadowComparator(json(undefined, ['$.model_version', '$.request_id', "$.meta['trace id']", '$.items[1]']));
    const blue = { model_version: 'v1', request_id: 'a', meta: { 'trace id': 1, keep: 2 }, items: [1, 2, 3], label: 'cat' };
    const green = { model_version: 'v2', meta: { 'trace id': 9, keep: 2 }, items: [1, 20, 3], label: 'cat' };
    expect(c.compare(ok(blue), ok(green)).result).toBe('match');
    expect(c.compare(ok(blue), ok({ ...green, label: 'dog' }))).toMatchObject({ result: 'mismatch', reason: '$.label: "cat" vs "dog"' });
    expect(c.compare(ok(blue), ok({ ...green, meta: { 'trace id': 9, keep: 3 } })).reason).toBe('$.meta.keep: 2 vs 3');
  });

  it('compares labels exactly even with a numeric tolerance', () => {
    const c = new ShadowComparator(json({ tolerance: 0.5 }, [], ['$.class']));
    expect(c.compare(ok({ class: 3, score: 0.5 }), ok({ class: 3, score: 0.9 })).result).toBe('match');
    expect(c.compare(ok({ class: 3, score: 0.5 }), ok({ class: 3.2, score: 0.5 }))).toMatchObject({
      result: 'mismatch',
      reason: '$.class: 3 vs 3.2 (label: exact)',
    });
  });

  it('names structural differences: missing keys, extra keys, array lengths, types', () => {
    const c = new ShadowComparator(json({ tolerance: 1 }));
    expect(c.compare(ok({ a: 1, b: 2 }), ok({ a: 1 })).reason).toBe('$.b: only blue has it');
    expect(c.compare(ok({ a: 1 }), ok({ a: 1, c: 2 })).reason).toBe('$.c: only green has it');
    expect(c.compare(ok({ a: [1, 2] }), ok({ a: [1] })).reason).toBe('$.a: 2 vs 1 items');
    expect(c.compare(ok({ a: '1' }), ok({ a: 1 })).reason).toBe('$.a: "1" vs 1');
    expect(c.compare(ok({ a: { b: 1 } }), ok({ a: [1] })).result).toBe('mismatch');
  });

  it('counts an answer that is not JSON as an error, never a match', () => {
    const c = new ShadowComparator(json());
    expect(c.compare(ok('<html>oops</html>'), ok('<html>oops</html>'))).toEqual({ result: 'error', reason: "blue's answer is not JSON" });
    expect(c.compare(ok({ a: 1 }), ok('not json'))).toEqual({ result: 'error', reason: "green's answer is not JSON" });
  });

  it('never calls a failed side a mismatch: blue 5xx, green 5xx or no answer are errors', () => {
    const c = new ShadowComparator({ ...json(), status: true });
    expect(c.compare(ok({ a: 1 }, 503), ok({ a: 2 }))).toEqual({ result: 'error', reason: 'blue answered 503' });
    expect(c.compare(ok({ a: 1 }), ok({ a: 2 }, 500))).toEqual({ result: 'error', reason: 'green answered 500' });
    expect(c.compare(ok({ a: 1 }), { status: 0, body: Buffer.alloc(0) }).result).toBe('error');
  });
});

describe('ShadowComparator: status, bytes, distribution', () => {
  it('status: true mismatches on different status codes', () => {
    const c = new ShadowComparator({ status: true });
    expect(c.compare(ok('x', 200), ok('y', 200)).result).toBe('match');
    expect(c.compare(ok('x', 200), ok('x', 404))).toEqual({ result: 'mismatch', reason: 'status 200 vs 404' });
  });

  it('bytes: equal bodies match, any other body mismatches', () => {
    const c = new ShadowComparator({ bytes: true });
    expect(c.compare(ok('plain text'), ok('plain text')).result).toBe('match');
    expect(c.compare(ok('plain text'), ok('plain text!'))).toEqual({ result: 'mismatch', reason: 'bodies differ (10 vs 11 bytes)' });
  });

  it('reads both scores at the distribution path when both are numbers', () => {
    const c = new ShadowComparator({ json: { ignore: ['$.score'], labels: [] }, distribution: { path: '$.score' } });
    expect(c.compare(ok({ score: 0.2 }), ok({ score: 0.7 }))).toMatchObject({ result: 'match', scores: { blue: 0.2, green: 0.7 } });
    expect(c.compare(ok({ score: 0.2 }), ok({ score: 'high' })).scores).toBeUndefined();
    const onlyScores = new ShadowComparator({ distribution: { path: '$.p[0]' } });
    expect(onlyScores.compare(ok({ p: [0.1] }), ok({ p: [0.3] }))).toEqual({ result: 'match', scores: { blue: 0.1, green: 0.3 } });
  });
});

describe('compareSpecProblem', () => {
  it.each<[string, ShadowCompareSpec, string, RegExp]>([
    ['an invalid ignore path', json(undefined, ['score']), 'json.ignore.0', /start with \$/],
    ['an invalid label path', json(undefined, [], ['$.a', '$..b']), 'json.labels.1', /cannot read/],
    ['an invalid distribution path', { distribution: { path: '$[x]' } }, 'distribution.path', /cannot read/],
    ['a negative tolerance', json({ tolerance: -0.1 }), 'json.numeric.tolerance', />= 0/],
    ['a negative relative tolerance', json({ relative: -1 }), 'json.numeric.relative', />= 0/],
    ['json and bytes', { json: { ignore: [], labels: [] }, bytes: true }, 'bytes', /not both/],
    ['nothing to compare', { status: false }, '', /compares nothing/],
  ])('refuses %s, naming the field', (_name, spec, field, message) => {
    const problem = compareSpecProblem(spec);
    expect(problem?.field).toBe(field);
    expect(problem?.message).toMatch(message);
    expect(() => new ShadowComparator(spec)).toThrow(RangeError);
  });

  it('accepts a full spec', () => {
    expect(
      compareSpecProblem({ status: true, json: { ignore: ['$.id'], labels: ['$.label'], numeric: { tolerance: 0.01 } }, distribution: { path: '$.score' } }),
    ).toBeUndefined();
  });
});
