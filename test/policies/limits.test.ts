// A policy's size is bounded before it costs anything: bytes before the YAML
// is parsed, steps before any step is checked, and a broken generated file
// lists its first problems and counts the rest. `saferoll validate` and
// `saferoll start` (the same loader) refuse with exit code 2.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_POLICY_BYTES, loadPolicyFile, parsePolicy } from '../../policies/loader.js';
import { PolicyError } from '../../policies/policy-error.js';
import { MAX_STEPS } from '../../policies/schema.js';
import { runCli } from '../support/cli.js';

const head = ['name: big', 'slo: { errorRate: 1% }'];
const text = (...lines: string[]): string => `${[...head, ...lines].join('\n')}\n`;

/** A valid policy of `count` steps: create, then traffic steps that never decrease and end at 100%. */
function policyWithSteps(count: number): string {
  const traffic = Array.from({ length: count - 1 }, (_, i) => `  - traffic: { percent: ${Math.max(1, Math.min(100, 100 - (count - 2 - i)))}, for: 5s }`);
  return text('steps:', '  - create: {}', ...traffic);
}

function refusal(run: () => unknown): PolicyError {
  try {
    run();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('the policy was accepted');
}

let dir: string;
let bigFile: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'saferoll-policy-limits-'));
  bigFile = path.join(dir, 'big.yaml');
  // The file of the issue: 10 MB, most of it steps.
  await writeFile(bigFile, policyWithSteps(2) + '  - traffic: { percent: 100, for: 5s }\n'.repeat(280_000));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('policy size limits', () => {
  test('text over the byte limit is refused at 1:1 before it is parsed', () => {
    const err = refusal(() => parsePolicy(`${policyWithSteps(2)}#${'x'.repeat(MAX_POLICY_BYTES)}\n`, 'p.yaml'));
    expect(err.message).toMatch(/^p\.yaml:1:1: a policy is at most 131072 bytes \(128 KiB: .*\), this one is \d+ bytes$/);
  });

  test('a policy of exactly the byte limit loads', () => {
    const policy = policyWithSteps(3);
    const padded = `${policy}#${'x'.repeat(MAX_POLICY_BYTES - Buffer.byteLength(policy) - 2)}\n`;
    expect(Buffer.byteLength(padded)).toBe(MAX_POLICY_BYTES);
    expect(parsePolicy(padded, 'p.yaml').steps).toHaveLength(3);
  });

  test('a 10 MB file on disk is refused by its size, naming the file', async () => {
    const err = await loadPolicyFile(bigFile).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PolicyError);
    const { size } = await stat(bigFile);
    expect(size).toBeGreaterThan(10_000_000);
    expect((err as PolicyError).message).toBe(
      `${bigFile}:1:1: a policy is at most 131072 bytes (128 KiB: a plan of a few steps, not data), this one is ${size} bytes`,
    );
  });

  test('a file that never ends (/dev/zero) is refused after the limit, not read forever', async () => {
    const err = await loadPolicyFile('/dev/zero').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as PolicyError).message).toMatch(/^\/dev\/zero:1:1: a policy is at most 131072 bytes .*, this one is more than that$/);
  });

  test(`${MAX_STEPS} steps load; one more is refused at the steps key, before any step is checked`, () => {
    expect(parsePolicy(policyWithSteps(MAX_STEPS), 'p.yaml').steps).toHaveLength(MAX_STEPS);
    const err = refusal(() => parsePolicy(`${text('steps:')}${'  - bogus: 1\n'.repeat(MAX_STEPS + 1)}`, 'p.yaml'));
    expect(err.message).toBe(`p.yaml:3:1: steps: a policy has at most ${MAX_STEPS} steps, found ${MAX_STEPS + 1}`);
  });

  test('a file with thousands of problems lists the first 50 and counts the rest', () => {
    const headers = Array.from({ length: 300 }, (_, i) => `        h${i}: [${i}]`);
    const err = refusal(() => parsePolicy(text('steps:', '  - create: {}', '  - smoke:', '      headers:', ...headers), 'p.yaml'));
    expect(err.total).toBe(300);
    expect(err.problems).toHaveLength(51);
    expect(err.problems[0]).toMatchObject({ line: 7, col: 13, path: 'steps.1.smoke.headers.h0', message: 'expected text, got a list' });
    expect(err.problems[50]).toMatchObject({ line: 57, col: 14, path: '', message: 'and 250 more problems from here on (fix these first)' });
  });

  test('duplicate keys are found in one pass, each at its second occurrence', () => {
    const headers = Array.from({ length: 5000 }, (_, i) => `        h${i % 2500}: "v"`);
    const err = refusal(() => parsePolicy(text('steps:', '  - create: {}', '  - smoke:', '      headers:', ...headers), 'p.yaml'));
    expect(err.total).toBe(2500);
    expect(err.message.split('\n')[0]).toBe('p.yaml:2507:9: YAML syntax: map keys must be unique, "h0" appears twice');
  });
});

describe('the CLI refuses an oversized policy with exit code 2', () => {
  test('saferoll validate', async () => {
    const result = await runCli(['validate', bigFile]);
    expect(result.code).toBe(2);
    expect(result.output).toContain(`${bigFile}:1:1: a policy is at most 131072 bytes`);
    expect(result.output).toContain(`saferoll validate: 1 problem in ${bigFile}`);
  });

  test('saferoll start, before it connects to anything', async () => {
    const result = await runCli(['start', '--policy', bigFile, '--endpoint', 'scoring', '--green', 'green', '--upstream', 'http://127.0.0.1:9'], {
      TEMPORAL_ADDRESS: '127.0.0.1:9',
      SAFEROLL_ROUTER_URL: 'http://127.0.0.1:9',
    });
    expect(result.code).toBe(2);
    expect(result.output).toContain(`${bigFile}:1:1: a policy is at most 131072 bytes`);
    expect(result.output).toMatch(/nothing started/);
  });
});
