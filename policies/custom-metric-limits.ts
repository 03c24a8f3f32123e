// Defaults and limits of custom checks (analysis.metrics), apart from the
// schema so workflow code can read them without pulling in zod.

/** Provider errors in a row that fail a custom check, unless the policy says otherwise. */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
/** Each check is an activity reading per tick: a handful, not a dashboard. */
export const MAX_CUSTOM_METRICS = 20;
