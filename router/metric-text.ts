// The text of the Prometheus exposition as prom-client writes it: family
// headers and label sets. Shared by the data plane's hand-booked series
// (metrics.ts, shadow/shadow-metrics.ts) so they render alike.

/** A family's HELP and TYPE lines (help escaped as prom-client escapes it). */
export const header = (name: string, type: 'counter' | 'histogram' | 'gauge', help: string): string =>
  `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}`;

/** `name="value",…` in the order given, values escaped as prom-client escapes them. */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`)
    .join(',');
}
