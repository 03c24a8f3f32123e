// The gate of custom checks (policy analysis.metrics): provider readings of
// one tick -> one GateCheck per rule. Pure and deterministic, as it runs in
// workflow code. The promise is the built-in SLOs': no number, no pass.
//   a value                -> the rule's verdict (min fails below, the others above)
//   no data, NaN, no series -> Inconclusive, with the provider's reason ("no data: ...")
//   a provider error       -> Error; `errorLimit` ticks in a row with an error -> Failed, with the provider's message
// A baseline rule reads blue over the same window. Blue without data leaves
// it Inconclusive; as with the built-in baseline, that does not hold the gate
// when the check also has min or max (they still guard green), and does when
// the baseline is all the check has (else it would pass on nothing).
import type { CustomRule, GateCheck, GatePhase } from './evaluate.js';
import type { ProviderReading } from './metric-provider.js';

/** The limits of one custom check (policies' CustomMetric has these fields). */
export interface CustomCheckLimits {
  name: string;
  min?: number;
  max?: number;
  baseline?: { maxRatio?: number; maxDelta?: number; maxDrop?: number };
}

/** One provider answer for one check and one side, with the query as sent. */
export interface CustomReading {
  name: string;
  side: 'green' | 'blue';
  resolved: string;
  reading: ProviderReading;
}

/** Provider errors in a row, per check name; carried from tick to tick. */
export type ErrorStreaks = Record<string, number>;

export function judgeCustomChecks(
  limits: readonly CustomCheckLimits[],
  readings: readonly CustomReading[],
  streaks: ErrorStreaks,
  errorLimit: number,
): { checks: GateCheck[]; phase: GatePhase; streaks: ErrorStreaks } {
  const checks: GateCheck[] = [];
  /** Baseline rules left Inconclusive for want of blue data beside an absolute rule: shown, not holding. */
  const notHolding = new Set<GateCheck>();
  const next: ErrorStreaks = {};
  for (const check of limits) {
    const green = readings.find((r) => r.name === check.name && r.side === 'green');
    const blue = readings.find((r) => r.name === check.name && r.side === 'blue');
    const errored = [green, blue].find((r) => r?.reading.kind === 'error');
    const streak = errored === undefined ? 0 : (streaks[check.name] ?? 0) + 1;
    next[check.name] = streak;
    const base = { metric: 'custom' as const, name: check.name, ...(green === undefined ? {} : { query: green.resolved }) };
    const add = (rule: CustomRule, limit: number, judge: (g: number, b: number | undefined) => { value: number | null; note?: string }, needsBlue: boolean) => {
      const failure = errorOf(needsBlue ? [green, blue] : [green]);
      if (failure !== undefined) {
        const phase: GatePhase = streak >= errorLimit ? 'Failed' : 'Error';
        const note = phase === 'Failed' ? `${streak} provider errors in a row: ${failure}` : `provider error ${streak}/${errorLimit}: ${failure}`;
        checks.push({ ...base, rule, value: null, limit, phase, note });
        return;
      }
      const g = green?.reading;
      if (g === undefined || g.kind !== 'value') {
        checks.push({ ...base, rule, value: null, limit, phase: 'Inconclusive', note: g?.kind === 'noData' ? g.reason : 'no data: not read' });
        return;
      }
      const b = blue?.reading;
      if (needsBlue && (b === undefined || b.kind !== 'value')) {
        const why = b?.kind === 'noData' ? b.reason.replace(/^no data/, 'no blue data') : 'no blue data';
        const skipped: GateCheck = { ...base, rule, value: null, limit, phase: 'Inconclusive', note: why };
        checks.push(skipped);
        if (check.min !== undefined || check.max !== undefined) notHolding.add(skipped);
        return;
      }
      const { value, note } = judge(g.value, b?.kind === 'value' ? b.value : undefined);
      if (value === null) {
        checks.push({ ...base, rule, value, limit, phase: 'Inconclusive', ...(note === undefined ? {} : { note }) });
        return;
      }
      const failed = rule === 'min' ? value < limit : value > limit;
      checks.push({ ...base, rule, value, limit, phase: failed ? 'Failed' : 'Successful', ...(note === undefined ? {} : { note }) });
    };
    if (check.min !== undefined) add('min', check.min, (g) => ({ value: g }), false);
    if (check.max !== undefined) add('max', check.max, (g) => ({ value: g }), false);
    const rules = check.baseline ?? {};
    if (rules.maxRatio !== undefined) {
      add(
        'maxRatio',
        rules.maxRatio,
        (g, b) => (b !== undefined && b !== 0 ? { value: g / b, note: `green ${g} vs blue ${b}` } : { value: null, note: 'blue is 0: no ratio' }),
        true,
      );
    }
    if (rules.maxDelta !== undefined) add('maxDelta', rules.maxDelta, (g, b) => ({ value: g - (b ?? 0), note: `green ${g} vs blue ${b}` }), true);
    if (rules.maxDrop !== undefined) add('maxDrop', rules.maxDrop, (g, b) => ({ value: (b ?? 0) - g, note: `green ${g} vs blue ${b}` }), true);
  }
  return { checks, phase: customChecksPhase(checks.filter((c) => !notHolding.has(c))), streaks: next };
}

function errorOf(readings: readonly (CustomReading | undefined)[]): string | undefined {
  for (const r of readings) if (r?.reading.kind === 'error') return `${r.side}: ${r.reading.message}`;
  return undefined;
}

/**
 * The phase of a tick's custom checks: Failed wins, then Error (an error
 * never passes), then Inconclusive; Successful only if every rule holds.
 */
export function customChecksPhase(checks: readonly GateCheck[]): GatePhase {
  for (const phase of ['Failed', 'Error', 'Inconclusive'] as const) if (checks.some((c) => c.phase === phase)) return phase;
  return 'Successful';
}
