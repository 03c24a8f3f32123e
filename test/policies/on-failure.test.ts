// onFailure in a policy: rollback stays the default, pause holds with a
// timeout (1h unless given), and a mistake is reported at its file:line:col.
import { describe, expect, test } from 'vitest';
import { describePlan } from '../../policies/describe.js';
import { parsePolicy } from '../../policies/loader.js';
import { problemsOf } from '../support/policy-problems.js';

const policy = (onFailure: string): string =>
  ['name: t', 'slo: { errorRate: 1% }', 'steps:', '  - create: {}', '  - traffic: { percent: 100, for: 1m }', onFailure, ''].join('\n');

describe('onFailure', () => {
  test.each([
    { name: 'absent: roll back', yaml: '', onFailure: { keepGreen: false } },
    { name: 'rollback, as written', yaml: 'onFailure: { action: rollback, keepGreen: true }', onFailure: { action: 'rollback', keepGreen: true } },
    { name: 'pause: held for 1h by default', yaml: 'onFailure: { action: pause }', onFailure: { action: 'pause', keepGreen: false, timeoutMs: 3_600_000 } },
    { name: 'pause with a timeout', yaml: 'onFailure: { action: pause, timeout: 15m }', onFailure: { action: 'pause', keepGreen: false, timeoutMs: 900_000 } },
  ])('$name', ({ yaml, onFailure }) => {
    expect(parsePolicy(policy(yaml), 'p.yaml').onFailure).toStrictEqual(onFailure);
  });

  test('the plan line says a failed gate holds', () => {
    expect(describePlan(parsePolicy(policy('onFailure: { action: pause, timeout: 15m }'), 'p.yaml'))).toMatch(/; a failed gate holds ≤15m$/);
  });

  test('an unknown action, a timeout without pause and a bad duration are refused where they are written', () => {
    expect(problemsOf(policy('onFailure: { action: halt }'))).toEqual(['p.yaml:6:22: onFailure.action: must be one of rollback, pause, got "halt"']);
    expect(problemsOf(policy('onFailure: { timeout: 10m }'))).toEqual([
      'p.yaml:6:23: onFailure.timeout: applies only with action: pause (a rollback does not wait)',
    ]);
    expect(problemsOf(policy('onFailure: { action: pause, timeout: 0s }'))).toEqual(['p.yaml:6:38: onFailure.timeout: must be longer than 0s']);
  });
});
