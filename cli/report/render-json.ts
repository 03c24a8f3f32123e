// The report as JSON: the whole evidence object (schema "saferoll.report/v1"),
// every reading with the four windows exactly as measureWindows returned them,
// for scripts and dashboards.
import type { RolloutEvidence } from './evidence.js';

export function renderJson(e: RolloutEvidence): string {
  return `${JSON.stringify(e, null, 2)}\n`;
}
