// What the policy loader reports about a policy it refuses: one line per
// problem, each with its file:line:col. Fails the test if it is accepted.
import { expect } from 'vitest';
import { parsePolicy } from '../../policies/loader.js';
import { PolicyError } from '../../policies/policy-error.js';

/** The lines of the PolicyError a policy that must fail raises (`p.yaml:line:col: path: message`), one per problem. */
export function problemsOf(text: string, file = 'p.yaml'): string[] {
  try {
    parsePolicy(text, file);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    expect(err.problems).toHaveLength(err.message.split('\n').length);
    return err.message.split('\n');
  }
  throw new Error('the policy was accepted');
}
