// Reads a policy file: YAML text -> validated Policy, or a PolicyError that
// lists every problem at its file:line:col. The schema reports paths into the
// data; this file maps each path back to the YAML node it came from.

import { open } from 'node:fs/promises';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { PolicyError } from './policy-error.js';
import type { PolicyProblem } from './policy-error.js';
import { validatePolicy } from './schema.js';
import type { SchemaProblem } from './schema.js';
import type { Policy } from './types.js';

// Anchors and aliases are legal YAML; the cap stops a "billion laughs" file
// from expanding into gigabytes.
const MAX_ALIAS_COUNT = 100;

/**
 * The largest policy read, checked before parsing (a 10 MB file used to take
 * 16 s and 1.7 GB). 128 KiB is 80 times the full shipped policy, parses in
 * well under a second, and keeps the policy, which travels in the rollout's
 * workflow input, clear of Temporal's payload limits (a warning at 256 KB,
 * an error at 2 MB).
 */
export const MAX_POLICY_BYTES = 128 * 1024;

/** Past this many problems the rest are counted, not listed (a broken generated file could have thousands). */
const MAX_LISTED_PROBLEMS = 50;

/** Parses and validates policy text; `fileName` only labels the problems. */
export function parsePolicy(text: string, fileName: string): Policy {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_POLICY_BYTES) throw tooLarge(fileName, bytes);
  const lineCounter = new LineCounter();
  // yaml's own duplicate-key check compares every key with every other (a
  // 128 KiB map took 4 s); keyProblems() below does it in one pass.
  // Warnings (a map used as a key, say) would print on stderr: keyProblems() reports them instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  const problemAt = (offset: number, path: string, message: string): PolicyProblem => ({
    file: fileName,
    ...lineCounter.linePos(offset),
    path,
    message,
  });

  if (doc.errors.length > 0) {
    // The data of a broken document is a guess: report the syntax alone.
    throw new PolicyError(
      listed(doc.errors, (err) => problemAt(err.pos[0], '', `YAML syntax: ${err.message}`)),
      { total: doc.errors.length },
    );
  }
  const keys = keyProblems(doc);
  if (keys.length > 0)
    throw new PolicyError(
      listed(keys, (d) => problemAt(d.offset, '', d.message)),
      { total: keys.length },
    );

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new PolicyError([problemAt(0, '', `YAML: ${err instanceof Error ? err.message : String(err)}`)], { cause: err });
  }

  const result = validatePolicy(data);
  if (result.ok) return result.policy;
  throw new PolicyError(
    listed(result.problems, (p) => problemAt(offsetOf(doc, p), dottedPath(p.path), p.message)),
    { total: result.problems.length },
  );
}

/** `steps.2.mirror.percent`; a key that is empty or would blur the path (dots, spaces, quotes) is quoted: `headers."a.b"`. */
function dottedPath(path: readonly (string | number)[]): string {
  return path.map((key) => (typeof key === 'number' || /^[^\s."]+$/u.test(key) ? String(key) : JSON.stringify(key))).join('.');
}

/**
 * Keys that appear twice in one map (the YAML spec forbids it) or that are
 * lists or maps (JSON has no such keys), in document order. Iterative, so
 * depth costs no stack.
 */
function keyProblems(doc: Document): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const key = String(pair.key.value);
          if (seen.has(key)) found.push({ offset: startOf(pair.key) ?? 0, message: `YAML syntax: map keys must be unique, "${key}" appears twice` });
          seen.add(key);
        } else if (pair.key !== null) {
          found.push({ offset: startOf(pair.key) ?? 0, message: 'YAML: a key must be text, not a list or a map' });
        }
        pending.push(pair.value);
      }
    } else if (isSeq(node)) {
      pending.push(...node.items);
    }
  }
  return found.sort((a, b) => a.offset - b.offset);
}

/** The first problems placed in the file, and a last line counting the rest (placing each one costs a walk of the document). */
function listed<T>(problems: readonly T[], place: (problem: T) => PolicyProblem): PolicyProblem[] {
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS).map(place);
  const next = problems[MAX_LISTED_PROBLEMS];
  if (next !== undefined) {
    shown.push({ ...place(next), path: '', message: `and ${problems.length - MAX_LISTED_PROBLEMS} more problems from here on (fix these first)` });
  }
  return shown;
}

/** `bytes` is undefined when the file kept coming past the limit. */
function tooLarge(file: string, bytes: number | undefined): PolicyError {
  const size = bytes === undefined ? 'more than that' : `${bytes} bytes`;
  const message = `a policy is at most ${MAX_POLICY_BYTES} bytes (${MAX_POLICY_BYTES / 1024} KiB: a plan of a few steps, not data), this one is ${size}`;
  return new PolicyError([{ file, line: 1, col: 1, path: '', message }]);
}

/** Reads and parses a policy file; an unreadable or oversized file is a PolicyError too. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readAtMost(path, MAX_POLICY_BYTES);
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new PolicyError([{ file: path, line: 1, col: 1, path: '', message: `cannot read the policy: ${reason}` }], { cause: err });
  }
  return parsePolicy(text, path);
}

// Never reads more than one byte past the limit, whatever the file claims to
// be: a stat size says nothing about /dev/zero or a pipe.
async function readAtMost(path: string, limit: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > limit) throw tooLarge(path, size);
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > limit) throw tooLarge(path, undefined);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Where in the text a problem's path points: the value it names, the key when
 * the key is the problem (or the value is empty), and for a path that stops
 * existing part way (a missing key) the deepest node that does exist: the
 * parent map.
 */
function offsetOf(doc: Document, problem: SchemaProblem): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (const [i, segment] of problem.path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment));
      if (pair === undefined) break;
      const keyStart = startOf(pair.key);
      const valueStart = startOf(pair.value);
      const isLast = i === problem.path.length - 1;
      // An empty value (`create:`) has a zero-width node at the end of the line: the key reads better.
      const useKey = (isLast && problem.at === 'key') || valueStart === undefined || isEmptyNode(pair.value);
      offset = (useKey ? keyStart : valueStart) ?? offset;
      if (useKey && isLast) break;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = startOf(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function startOf(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

function isEmptyNode(node: unknown): boolean {
  return isNode(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

function isNode(value: unknown): value is Node {
  return isScalar(value) || isMap(value) || isSeq(value) || isAlias(value);
}
