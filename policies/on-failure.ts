// onFailure: what a failed gate does. The schema validates it; the workflow
// reads it. Imports nothing: workflow code uses it.

/**
 * With `action: pause`, how long a held rollout waits for an operator before
 * rolling back: long enough for someone paged to look, short enough that a
 * forgotten hold does not leave users on a failing green for a day.
 */
export const DEFAULT_HOLD_TIMEOUT_MS = 3_600_000;
