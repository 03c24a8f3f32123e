// The placeholders a custom check's query, URL or body may use, and their
// rendering. Pure and import-free: the policy schema refuses unknown names
// with it, the metric providers render with it, workflow code may read it.

/** What each placeholder stands for (the README's policy reference lists the same). */
export const METRIC_PLACEHOLDERS = ['endpoint', 'green', 'blue', 'deployment', 'window', 'interval'] as const;
export type MetricPlaceholder = (typeof METRIC_PLACEHOLDERS)[number];
export type PlaceholderValues = Record<MetricPlaceholder, string>;

// `{{ name }}` with optional spaces; anything between the braces is a name to check.
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The names a template uses that are not placeholders, in order of appearance. */
export function unknownPlaceholders(template: string): string[] {
  const known: readonly string[] = METRIC_PLACEHOLDERS;
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '').filter((name) => !known.includes(name));
}

/** Replaces every placeholder; throws a RangeError naming an unknown one (validation refuses those first). */
export function renderPlaceholders(template: string, values: PlaceholderValues): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!(METRIC_PLACEHOLDERS as readonly string[]).includes(name)) throw new RangeError(`unknown placeholder {{${name}}}`);
    return values[name as MetricPlaceholder];
  });
}

/**
 * Milliseconds as a PromQL duration: whole seconds where possible (`30s`,
 * `5m`, `1h30m`), rounded up so a range never misses the window's first
 * scrape, and never below 1s.
 */
export function promDuration(ms: number): string {
  let seconds = Math.max(1, Math.ceil(ms / 1000));
  let text = '';
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(seconds / size);
    if (count > 0) text += `${count}${unit}`;
    seconds -= count * size;
  }
  return text;
}
