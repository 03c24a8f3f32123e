// A broken rule, named by the field that breaks it. Rules return one instead
// of throwing so that each caller words the failure for its own audience: the
// admin API answers 400, the state loader names the file and the full path.
import { SaferollError } from '../shared/errors.js';

export interface RuleViolation {
  /** Dotted path of the offending field, e.g. `traffic.green`. */
  field: string;
  message: string;
}

/** The admin API's form: a validation error (400) naming the field. */
export function violationError(violation: RuleViolation): SaferollError {
  return new SaferollError('SAFEROLL_E_VALIDATION', `${violation.field}: ${violation.message}`, { field: violation.field });
}
