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

/** `file:line:col: path.to.field: message`, the form editors and CI annotators link. */
export function formatProblem(problem: PolicyProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.col}`;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}
