// Reads a policy file: YAML text -> validated Policy, or a PolicyError that
// lists every problem at its file:line:col. The schema reports paths into the
// data; this file maps each path back to the YAML node it came from.

import { readFile } from 'node:fs/promises';
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

/** Parses and validates policy text; `fileName` only labels the problems. */
export function parsePolicy(text: string, fileName: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const problemAt = (offset: number, path: string, message: string): PolicyProblem => ({
    file: fileName,
    ...lineCounter.linePos(offset),
    path,
    message,
  });

  if (doc.errors.length > 0) {
    // The data of a broken document is a guess: report the syntax alone.
    throw new PolicyError(doc.errors.map((err) => problemAt(err.pos[0], '', `YAML syntax: ${err.message}`)));
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new PolicyError([problemAt(0, '', `YAML: ${err instanceof Error ? err.message : String(err)}`)], { cause: err });
  }

  const result = validatePolicy(data);
  if (result.ok) return result.policy;
  throw new PolicyError(result.problems.map((p) => problemAt(offsetOf(doc, p), p.path.join('.'), p.message)));
}

/** Reads and parses a policy file; an unreadable file is a PolicyError too. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PolicyError([{ file: path, line: 1, col: 1, path: '', message: `cannot read the policy: ${reason}` }], { cause: err });
  }
  return parsePolicy(text, path);
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
