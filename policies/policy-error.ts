// The error a policy that cannot be used raises: every problem found, each
// with its place in the file, so an author can fix them all in one pass.

import { SaferollError } from '../shared/errors.js';

export interface PolicyProblem {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Dotted path of the field (`steps.2.mirror.percent`); empty for the file as a whole. */
  path: string;
  message: string;
}

export class PolicyError extends SaferollError {
  readonly problems: readonly PolicyProblem[];
  /** How many problems were found; more than `problems` when the list was cut short (its last line says so). */
  readonly total: number;

  constructor(problems: readonly PolicyProblem[], options?: { cause?: unknown; total?: number }) {
    // Top to bottom, the order an editor shows them in.
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
    super('SAFEROLL_E_POLICY', sorted.map(formatProblem).join('\n'), {
      field: sorted.length === 1 ? sorted[0]?.path || undefined : undefined,
      cause: options?.cause,
    });
    this.name = 'PolicyError';
    this.problems = sorted;
    this.total = options?.total ?? sorted.length;
  }
}

/** `file:line:col: path.to.field: message`, the form editors and CI annotators link: one line, whatever the file held. */
export function formatProblem(problem: PolicyProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.col}`;
  const text = problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`;
  return `${where}: ${oneLine(text)}`;
}

// Keys and values quoted in a message come from the file and may hold line breaks.
// eslint-disable-next-line no-control-regex -- control characters are what it must find
const LINE_BREAKING = /[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

function oneLine(text: string): string {
  return text.replace(LINE_BREAKING, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
