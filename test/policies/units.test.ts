// Durations, rates and percents as policy authors write them.
import { describe, expect, test } from 'vitest';
import { formatDuration, formatRate, parseDuration, parsePercent, parseRate } from '../../policies/units.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1_500],
    ['1.1s', 1_100],
    ['0s', 0],
    [' 5s ', 5_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    [5, '5 has no unit: add one (ms, s, m or h), e.g. 5ms or 5s'],
    ['250', '250 has no unit: add one (ms, s, m or h), e.g. 250ms or 250s'],
    ['5x', '"5x" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s'],
    ['5 s', '"5 s" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s'],
    ['', '"" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s'],
    ['s', '"s" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s'],
    ['30s1m', '"30s1m": write units from largest to smallest, each once (e.g. 1h30m, 1m30s)'],
    ['1s1s', '"1s1s": write units from largest to smallest, each once (e.g. 1h30m, 1m30s)'],
    ['-5s', '"-5s" is negative: durations are 0 or more'],
    ['1.5ms', '"1.5ms" is finer than a millisecond'],
  ])('refuses %j', (input, message) => {
    expect(() => parseDuration(input)).toThrow(new RangeError(message));
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [500, '500ms'],
    [5_000, '5s'],
    [120_000, '2m'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [1_500, '1s500ms'],
    [3_723_004, '1h2m3s4ms'],
    [36_000_000, '10h'],
  ])('writes %i ms as %j, which reads back the same', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('parseRate', () => {
  test.each([
    ['1%', 0.01],
    ['0.5%', 0.005],
    ['7%', 0.07],
    ['100%', 1],
    ['0%', 0],
    [0.01, 0.01],
    ['0.01', 0.01],
    [0, 0],
    [1, 1],
  ])('reads %j as %d', (input, fraction) => {
    expect(parseRate(input)).toBe(fraction);
  });

  test.each([
    [5, '5 is not a fraction from 0 to 1: did you mean 5%?'],
    ['101%', '101% is more than 100%'],
    [-0.1, '-0.1 is negative: rates are from 0 to 1'],
    ['abc', '"abc" is not a rate: write a percent (1%, 0.5%) or a fraction from 0 to 1 (0.01)'],
    ['1 %', '"1 %" is not a rate: write a percent (1%, 0.5%) or a fraction from 0 to 1 (0.01)'],
    [Number.NaN, 'NaN is not a rate'],
  ])('refuses %j', (input, message) => {
    expect(() => parseRate(input)).toThrow(new RangeError(message));
  });

  test.each([
    [0.01, '1%'],
    [0.005, '0.5%'],
    [0.07, '7%'],
    [1, '100%'],
  ])('formats %d as %j', (fraction, text) => {
    expect(formatRate(fraction)).toBe(text);
  });
});

describe('parsePercent', () => {
  test.each([
    [10, 10],
    ['10%', 10],
    ['10', 10],
    [100, 100],
  ])('reads %j as %i', (input, percent) => {
    expect(parsePercent(input)).toBe(percent);
  });

  test.each([
    [10.5, '10.5 is not a whole percent'],
    ['ten', '"ten" is not a percent: write 10 or 10%'],
    ['-5%', '"-5%" is not a percent: write 10 or 10%'],
  ])('refuses %j', (input, message) => {
    expect(() => parsePercent(input)).toThrow(new RangeError(message));
  });
});
