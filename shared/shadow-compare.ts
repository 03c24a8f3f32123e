// Shadow comparison: judges one mirrored pair (the answer blue gave the client
// and green's answer to a copy of the same request) as match, mismatch or
// error. Pure and synchronous: the data plane runs it once both answers are
// in, off the client's path; the policy schema and the admin API validate the
// spec with `compareSpecProblem` when it changes, never per pair.
import { parseJsonPath, readJsonPath, type JsonPath } from './json-path.js';

/** How green's numbers may differ from blue's: absolutely (|a-b| <= tolerance) or relatively (|a-b| <= relative x max(|a|,|b|)). */
export type NumericTolerance = { tolerance: number } | { relative: number };

export interface JsonCompareSpec {
  /** JSON paths expected to differ (a model version, a request id): left out of the comparison. */
  ignore: string[];
  /** Numbers equal within this; without it numbers must be equal. */
  numeric?: NumericTolerance | undefined;
  /** JSON paths that must agree exactly (no numeric tolerance), e.g. a predicted class. */
  labels: string[];
}

/** What the router compares for a mirrored deployment (admin API `mirrorCompare`, policy `mirror.compare` minus its gate limits). */
export interface ShadowCompareSpec {
  /** Status codes must be equal. */
  status?: boolean | undefined;
  /** Both answers parsed as JSON and compared value by value. */
  json?: JsonCompareSpec | undefined;
  /** Both answers' bytes equal (non-JSON answers). */
  bytes?: boolean | undefined;
  /** A score read from both answers, booked for the distribution (PSI) check. */
  distribution?: { path: string } | undefined;
}

export type PairResult = 'match' | 'mismatch' | 'error';

export interface ShadowAnswer {
  /** The HTTP status; 0 when the deployment gave no answer (connection failure, timeout). */
  status: number;
  body: Buffer;
}

export interface PairVerdict {
  result: PairResult;
  /** Why it is not a match: the first difference found, or what failed. */
  reason?: string | undefined;
  /** The largest absolute difference between two numbers compared with tolerance (json with numeric only). */
  numericDifference?: number | undefined;
  /** Both sides' score at the distribution path, when both are finite numbers. */
  scores?: { blue: number; green: number } | undefined;
}

/** The first problem with a spec, as a field relative to the spec and a message; undefined when it is valid. */
export function compareSpecProblem(spec: ShadowCompareSpec): { field: string; message: string } | undefined {
  if (spec.json && spec.bytes) return { field: 'bytes', message: 'choose json or bytes, not both' };
  if (!spec.status && !spec.json && !spec.bytes && !spec.distribution) {
    return { field: '', message: 'compares nothing: set json, bytes, status: true or distribution' };
  }
  const paths: [string, string][] = [
    ...(spec.json?.ignore ?? []).map((p, i): [string, string] => [`json.ignore.${i}`, p]),
    ...(spec.json?.labels ?? []).map((p, i): [string, string] => [`json.labels.${i}`, p]),
  ];
  if (spec.distribution) paths.push(['distribution.path', spec.distribution.path]);
  for (const [field, path] of paths) {
    try {
      parseJsonPath(path);
    } catch (err) {
      return { field, message: (err as Error).message };
    }
  }
  const numeric = spec.json?.numeric;
  if (numeric) {
    const [field, value] = 'tolerance' in numeric ? ['json.numeric.tolerance', numeric.tolerance] : ['json.numeric.relative', numeric.relative];
    if (!Number.isFinite(value) || value < 0) return { field, message: `must be a number >= 0, got ${value}` };
  }
  return undefined;
}

/** A set of JSON paths as a tree of segments, walked alongside the documents. */
interface PathNode {
  here: boolean;
  children: Map<string | number, PathNode>;
}

function pathTree(paths: readonly JsonPath[]): PathNode {
  const root: PathNode = { here: false, children: new Map() };
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      let child = node.children.get(segment);
      if (!child) {
        child = { here: false, children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.here = true;
  }
  return root;
}

const NO_PATHS: PathNode = { here: false, children: new Map() };

/** A spec compiled once (paths parsed, trees built) and applied to many pairs. */
export class ShadowComparator {
  private readonly ignore: PathNode;
  private readonly labels: PathNode;
  private readonly labelPaths: JsonPath[];
  private readonly scorePath: JsonPath | undefined;
  private readonly tolerance: number;
  private readonly relative: boolean;
  private readonly numeric: boolean;

  /** Throws a RangeError on a spec `compareSpecProblem` refuses (validate it first). */
  constructor(readonly spec: ShadowCompareSpec) {
    const problem = compareSpecProblem(spec);
    if (problem) throw new RangeError(`${problem.field || 'compare'}: ${problem.message}`);
    this.ignore = spec.json ? pathTree(spec.json.ignore.map(parseJsonPath)) : NO_PATHS;
    this.labelPaths = spec.json ? spec.json.labels.map(parseJsonPath) : [];
    this.labels = pathTree(this.labelPaths);
    this.scorePath = spec.distribution ? parseJsonPath(spec.distribution.path) : undefined;
    const numeric = spec.json?.numeric;
    this.numeric = numeric !== undefined;
    this.relative = numeric !== undefined && 'relative' in numeric;
    this.tolerance = numeric === undefined ? 0 : 'relative' in numeric ? numeric.relative : numeric.tolerance;
  }

  /**
   * Judges a pair. A failed side (no answer, or 5xx) makes the pair an error,
   * never a mismatch: it says nothing about whether green predicts like blue,
   * and the error-rate gates already count it.
   */
  compare(blue: ShadowAnswer, green: ShadowAnswer): PairVerdict {
    if (blue.status === 0 || blue.status >= 500) return { result: 'error', reason: `blue answered ${statusText(blue.status)}` };
    if (green.status === 0 || green.status >= 500) return { result: 'error', reason: `green answered ${statusText(green.status)}` };
    if (this.spec.status && blue.status !== green.status) return { result: 'mismatch', reason: `status ${blue.status} vs ${green.status}` };
    if (this.spec.bytes && !blue.body.equals(green.body)) {
      return { result: 'mismatch', reason: `bodies differ (${blue.body.length} vs ${green.body.length} bytes)` };
    }
    if (!this.spec.json && !this.scorePath) return { result: 'match' };

    const blueDoc = parseJson(blue.body);
    const greenDoc = parseJson(green.body);
    if (blueDoc === NOT_JSON || greenDoc === NOT_JSON) {
      // Not judged: a comparator that cannot read an answer has no verdict on it.
      return { result: 'error', reason: `${blueDoc === NOT_JSON ? 'blue' : 'green'}'s answer is not JSON` };
    }
    const scores = this.scores(blueDoc, greenDoc);
    if (!this.spec.json) return { result: 'match', scores };
    const walk = { maxDifference: -1, difference: undefined as string | undefined };
    this.walk(blueDoc, greenDoc, this.ignore, this.labels, false, '$', walk);
    const numericDifference = walk.maxDifference >= 0 ? walk.maxDifference : undefined;
    if (walk.difference !== undefined) return { result: 'mismatch', reason: walk.difference, numericDifference, scores };
    return { result: 'match', numericDifference, scores };
  }

  private scores(blue: unknown, green: unknown): PairVerdict['scores'] {
    if (!this.scorePath) return undefined;
    const b = readJsonPath(blue, this.scorePath);
    const g = readJsonPath(green, this.scorePath);
    return typeof b === 'number' && typeof g === 'number' && Number.isFinite(b) && Number.isFinite(g) ? { blue: b, green: g } : undefined;
  }

  /** Compares two values below `path`; records the first difference and the largest numeric difference seen. */
  private walk(
    a: unknown,
    b: unknown,
    ignore: PathNode,
    labels: PathNode,
    exact: boolean,
    path: string,
    out: { maxDifference: number; difference: string | undefined },
  ): void {
    if (ignore.here) return;
    exact ||= labels.here;
    if (typeof a === 'number' && typeof b === 'number') {
      if (exact || !this.numeric) {
        if (a !== b) out.difference ??= `${path}: ${a} vs ${b}${exact && this.numeric ? ' (label: exact)' : ''}`;
        return;
      }
      const difference = Math.abs(a - b);
      if (difference > out.maxDifference) out.maxDifference = difference;
      const allowed = this.relative ? this.tolerance * Math.max(Math.abs(a), Math.abs(b)) : this.tolerance;
      if (difference > allowed) out.difference ??= `${path}: ${a} vs ${b} (${this.relative ? `relative ${this.tolerance}` : `tolerance ${this.tolerance}`})`;
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) out.difference ??= `${path}: ${a.length} vs ${b.length} items`;
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) this.walk(a[i], b[i], child(ignore, i), child(labels, i), exact, `${path}[${i}]`, out);
      return;
    }
    if (isObject(a) && isObject(b)) {
      for (const key of Object.keys(a)) {
        const at = `${path}${keyText(key)}`;
        const ignoreChild = child(ignore, key);
        if (ignoreChild.here) continue;
        if (!Object.hasOwn(b, key)) {
          out.difference ??= `${at}: only blue has it`;
          continue;
        }
        this.walk(a[key], b[key], ignoreChild, child(labels, key), exact, at, out);
      }
      for (const key of Object.keys(b)) {
        if (!Object.hasOwn(a, key) && !child(ignore, key).here) out.difference ??= `${path}${keyText(key)}: only green has it`;
      }
      return;
    }
    if (a !== b) out.difference ??= `${path}: ${brief(a)} vs ${brief(b)}`;
  }
}

const NOT_JSON = Symbol('not JSON');

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function child(node: PathNode, segment: string | number): PathNode {
  return node.children.get(segment) ?? NO_PATHS;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function keyText(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function brief(value: unknown): string {
  const text = value === undefined ? 'missing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function statusText(status: number): string {
  return status === 0 ? 'nothing (connection failed or timed out)' : String(status);
}
