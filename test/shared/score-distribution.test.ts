import { describe, expect, it } from 'vitest';
import { PSI_EMPTY_SHARE, SCORE_BIN_COUNT, populationStabilityIndex, scoreBin } from '../../shared/score-distribution.js';

describe('scoreBin', () => {
  it('puts a score in the first bin whose bound it is at or under; out-of-range scores in the end bins', () => {
    expect(scoreBin(-3)).toBe(0);
    expect(scoreBin(0)).toBe(0);
    expect(scoreBin(0.1)).toBe(0);
    expect(scoreBin(0.1000001)).toBe(1);
    expect(scoreBin(0.55)).toBe(5);
    expect(scoreBin(0.9)).toBe(8);
    expect(scoreBin(0.95)).toBe(9);
    expect(scoreBin(7)).toBe(SCORE_BIN_COUNT - 1);
  });
});

describe('populationStabilityIndex', () => {
  it('is 0 for the same distribution, whatever the totals', () => {
    expect(populationStabilityIndex([10, 20, 70], [1, 2, 7])).toBeCloseTo(0, 12);
  });

  it('matches a hand-computed case', () => {
    // blue 50/50, green 80/20: (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5)
    //   = 0.3 x 0.4700036 + 0.3 x 0.9162907 = 0.1410011 + 0.2748872 = 0.4158883
    expect(populationStabilityIndex([50, 50], [80, 20])).toBeCloseTo(0.4158883, 6);
  });

  it('floors an empty bin at PSI_EMPTY_SHARE instead of dividing by zero', () => {
    // blue all in bin 0; green all in bin 1: 2 x (1 - 0.0001) x ln(1 / 0.0001)
    const expected = 2 * (1 - PSI_EMPTY_SHARE) * Math.log(1 / PSI_EMPTY_SHARE);
    expect(populationStabilityIndex([10, 0], [0, 10])).toBeCloseTo(expected, 9);
    expect(expected).toBeCloseTo(18.4188, 3);
  });

  it('has no value when a side has no scores, and refuses different bins', () => {
    expect(populationStabilityIndex([0, 0], [1, 1])).toBeUndefined();
    expect(populationStabilityIndex([1, 1], [0, 0])).toBeUndefined();
    expect(() => populationStabilityIndex([1], [1, 2])).toThrow(RangeError);
  });
});
