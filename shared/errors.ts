// The one base error of saferoll: every error we raise on purpose carries a
// stable code (SAFEROLL_E_...) that scripts, the API and activities can match on.

export type ErrorCode =
  | 'SAFEROLL_E_VALIDATION'
  | 'SAFEROLL_E_NOT_FOUND'
  | 'SAFEROLL_E_CONFLICT'
  /** A guard lease renewal after the lease lapsed and the routing core put the fallback back (409). */
  | 'SAFEROLL_E_GUARD_FIRED'
  | 'SAFEROLL_E_UNAUTHORIZED'
  | 'SAFEROLL_E_PAYLOAD_TOO_LARGE'
  | 'SAFEROLL_E_STATE_CORRUPT'
  | 'SAFEROLL_E_STATE_WRITE'
  | 'SAFEROLL_E_POLICY'
  | 'SAFEROLL_E_UNREACHABLE'
  | 'SAFEROLL_E_TIMEOUT'
  | 'SAFEROLL_E_PROVISIONING'
  | 'SAFEROLL_E_METRICS'
  | 'SAFEROLL_E_UPSTREAM'
  | 'SAFEROLL_E_UPSTREAM_TIMEOUT'
  | 'SAFEROLL_E_NO_TRAFFIC'
  /** The data plane could not start: no Envoy binary, an Envoy that exits at start, a port in use. */
  | 'SAFEROLL_E_DATA_PLANE'
  /** A rollout workflow failed, was terminated or timed out instead of returning a verdict. */
  | 'SAFEROLL_E_WORKFLOW_FAILED'
  | 'SAFEROLL_E_NOTIFICATION'
  | 'SAFEROLL_E_INTERNAL'
  /** The failure type a rolled-back rollout ends its workflow with (workflows/rolled-back.ts): a verdict, not a crash. */
  | 'SAFEROLL_E_ROLLED_BACK';

export class SaferollError extends Error {
  readonly code: ErrorCode;
  /** The input field the error is about, as a dotted path, when there is one. */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { field?: string | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SaferollError';
    this.code = code;
    this.field = options?.field;
  }
}

export function isSaferollError(err: unknown): err is SaferollError {
  return err instanceof SaferollError;
}
