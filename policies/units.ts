// Durations, rates and percents as people write them in a policy ("1m30s",
// "1%", "10%"), and back again for summaries. Parsers throw a RangeError whose
// message is written for the policy author; the schema turns it into a problem
// at the offending field.

const MS_PER_UNIT = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof MS_PER_UNIT;
/** Largest first: a duration names each unit at most once, in this order. */
const UNIT_ORDER: readonly DurationUnit[] = ['h', 'm', 's', 'ms'];

// `ms` before `m` so that "500ms" is not read as 500 minutes followed by "s".
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const PLAIN_NUMBER = /^[+-]?\d+(?:\.\d+)?$/;
const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/** "500ms", "5s", "2m", "1h", "1m30s", "1.5s" -> milliseconds (a whole number). */
export function parseDuration(input: string | number): number {
  const text = typeof input === 'number' ? String(input) : input.trim();
  if (PLAIN_NUMBER.test(text)) {
    // A bare number is the classic slip (seconds? ms?): refuse rather than guess.
    throw new RangeError(`${text} has no unit: add one (ms, s, m or h), e.g. ${text}ms or ${text}s`);
  }
  if (text.startsWith('-')) throw new RangeError(`"${text}" is negative: durations are 0 or more`);

  let totalMs = 0;
  let lastUnitIndex = -1;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) break;
    const [, amount = '', unit = 's'] = match;
    const unitIndex = UNIT_ORDER.indexOf(unit as DurationUnit);
    if (unitIndex <= lastUnitIndex) {
      throw new RangeError(`"${text}": write units from largest to smallest, each once (e.g. 1h30m, 1m30s)`);
    }
    lastUnitIndex = unitIndex;
    totalMs += Number(amount) * MS_PER_UNIT[unit as DurationUnit];
  }
  if (text.length === 0 || lastUnitIndex === -1 || DURATION_PART.lastIndex !== text.length) {
    throw new RangeError(`"${text}" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s`);
  }
  // Decimals are allowed ("1.5s") as long as they land on a whole millisecond;
  // the rounding absorbs binary noise such as 1.1 * 1000 = 1100.0000000000002.
  const wholeMs = Math.round(totalMs);
  if (Math.abs(totalMs - wholeMs) > 1e-6) throw new RangeError(`"${text}" is finer than a millisecond`);
  if (!Number.isSafeInteger(wholeMs)) throw new RangeError(`"${text}" is too long`);
  return wholeMs;
}

/** Milliseconds -> the shortest text parseDuration reads back: 120000 -> "2m", 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const unit of UNIT_ORDER) {
    const count = Math.floor(rest / MS_PER_UNIT[unit]);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * MS_PER_UNIT[unit];
  }
  return text;
}

/** "1%" or a fraction (0.01, "0.01") -> a fraction from 0 to 1. */
export function parseRate(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new RangeError(`${input} is not a rate`);
    return checkFraction(input, String(input));
  }
  const text = input.trim();
  const percent = PERCENT.exec(text);
  if (percent !== null) {
    const value = Number(percent[1]);
    if (value > 100) throw new RangeError(`${text} is more than 100%`);
    return cleanFloat(value / 100);
  }
  if (!PLAIN_NUMBER.test(text)) {
    throw new RangeError(`"${text}" is not a rate: write a percent (1%, 0.5%) or a fraction from 0 to 1 (0.01)`);
  }
  return checkFraction(Number(text), text);
}

function checkFraction(fraction: number, text: string): number {
  if (fraction < 0) throw new RangeError(`${text} is negative: rates are from 0 to 1`);
  if (fraction > 1) {
    // 5 almost certainly means 5%, but guessing would hide a typo in a safety limit.
    throw new RangeError(`${text} is not a fraction from 0 to 1: did you mean ${text}%?`);
  }
  return fraction;
}

/** A fraction -> "1%", "0.5%". */
export function formatRate(fraction: number): string {
  return `${cleanFloat(fraction * 100)}%`;
}

/** 10 or "10%" (or "10") -> 10. Only whole percents: the router splits traffic in whole percents. */
export function parsePercent(input: string | number): number {
  const text = typeof input === 'number' ? String(input) : input.trim();
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  if (match === null) throw new RangeError(`"${text}" is not a percent: write 10 or 10%`);
  const value = Number(match[1]);
  if (!Number.isInteger(value)) throw new RangeError(`${text} is not a whole percent`);
  return value;
}

/** Drops binary noise: 0.07 * 100 is 7.000000000000001, and a summary should say 7%. */
function cleanFloat(value: number): number {
  return Number(value.toPrecision(12));
}
