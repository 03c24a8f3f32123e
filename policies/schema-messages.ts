// How schema problems read: zod's issues reworded for someone editing YAML,
// and each issue turned into the SchemaProblem(s) the loader places in the file.

import type { z } from 'zod';

/** One thing wrong with the input; `at: 'key'` when the key itself is the problem (unknown key). */
export interface SchemaProblem {
  path: (string | number)[];
  message: string;
  at: 'key' | 'value';
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
};

/** Messages for zod's own issues, written for someone editing YAML. */
export function messageFor(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      return issue.origin === 'array' ? `needs at least ${issue.minimum} items` : `must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `takes at most ${issue.maximum} items` : `must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.join(', ')}, got ${describeValue(issue.input)}`;
    default:
      return undefined;
  }
}

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return String(value);
}

/** One zod issue -> problems; an unknown-keys issue names several keys and becomes one problem per key. */
export function toProblems(issue: z.core.$ZodIssue): SchemaProblem[] {
  const path = issue.path.filter((part): part is string | number => typeof part !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"`, at: 'key' as const }));
  }
  const at = issue.code === 'custom' && issue.params?.['at'] === 'key' ? 'key' : 'value';
  return [{ path, message: issue.message, at }];
}
