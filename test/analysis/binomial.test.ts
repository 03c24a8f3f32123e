import { describe, expect, it } from 'vitest';
import { binomialUpperTail, clopperPearsonLower } from '../../analysis/binomial.js';

/** P(X >= k) summed term by term with exact-ish products: fine for small n. */
function naiveTail(k: number, n: number, p: number): number {
  let sum = 0;
  for (let i = k; i <= n; i++) {
    let choose = 1;
    for (let j = 1; j <= i; j++) choose = (choose * (n - i + j)) / j;
    sum += choose * p ** i * (1 - p) ** (n - i);
  }
  return sum;
}

describe('binomialUpperTail', () => {
  it.each([
    [3, 10, 0.05],
    [4, 10, 0.01],
    [1, 60, 0.01],
    [6, 60, 0.01],
    [30, 60, 0.5],
    [2, 100, 0.002],
    [0, 5, 0.3],
    [5, 5, 0.3],
  ])('P(X >= %i | n=%i, p=%f) matches the direct sum', (k, n, p) => {
    expect(binomialUpperTail(k, n, p)).toBeCloseTo(naiveTail(k, n, p), 12);
  });

  it('handles large n without overflow (normal approximation within 1%)', () => {
    // n = 1e6, p = 1%: mean 10000, sd 99.5; k = mean + 1 sd (continuity-corrected) -> about 0.1587.
    expect(binomialUpperTail(10_100, 1_000_000, 0.01)).toBeCloseTo(0.1587, 2);
    expect(binomialUpperTail(9_900, 1_000_000, 0.01)).toBeCloseTo(0.8438, 2);
  });

  it('has the obvious edges', () => {
    expect(binomialUpperTail(0, 10, 0.5)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.5)).toBe(0);
    expect(binomialUpperTail(1, 10, 0)).toBe(0);
    expect(binomialUpperTail(1, 10, 1)).toBe(1);
  });
});

describe('clopperPearsonLower', () => {
  it('is alpha^(1/n) when every trial succeeded', () => {
    expect(clopperPearsonLower(4, 4, 1e-4)).toBeCloseTo(0.1, 12);
  });

  it('is where the upper tail crosses alpha', () => {
    const lower = clopperPearsonLower(6, 60, 1e-4);
    expect(binomialUpperTail(6, 60, lower)).toBeCloseTo(1e-4, 8);
    expect(lower).toBeGreaterThan(0.01);
    expect(clopperPearsonLower(5, 60, 1e-4)).toBeLessThan(0.01);
  });

  it('is 0 with no successes', () => {
    expect(clopperPearsonLower(0, 100, 1e-4)).toBe(0);
  });
});
