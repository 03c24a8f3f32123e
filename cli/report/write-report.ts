// Writes a rendered report to a file: md with its chart next to it (same
// name, .svg, linked relatively so the pair can be moved or uploaded
// together), json, or html with the chart inline.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RolloutEvidence } from './evidence.js';
import { renderHtml } from './render-html.js';
import { renderJson } from './render-json.js';
import { renderMarkdown } from './render-md.js';
import { renderChart } from './render-svg.js';

export const REPORT_FORMATS = ['md', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The report as text, for stdout (md without a chart unless `chartUrl` says where one is). */
export function renderReport(evidence: RolloutEvidence, format: ReportFormat, chartUrl?: string): string {
  return format === 'json' ? renderJson(evidence) : format === 'html' ? renderHtml(evidence) : renderMarkdown(evidence, { chartHref: chartUrl });
}

/** Writes the report (and, for md, its chart); returns the files written. */
export async function writeReport(evidence: RolloutEvidence, format: ReportFormat, file: string, chartUrl?: string): Promise<string[]> {
  const out = path.resolve(file);
  await mkdir(path.dirname(out), { recursive: true });
  if (format !== 'md') {
    await writeFile(out, renderReport(evidence, format));
    return [out];
  }
  const svg = chartPathFor(out);
  await writeFile(svg, renderChart(evidence));
  await writeFile(out, renderMarkdown(evidence, { chartHref: chartUrl ?? encodeURI(path.basename(svg)) }));
  return [out, svg];
}

/** `report.md` -> `report.svg`; any other name gets `.svg` appended. */
export function chartPathFor(markdownFile: string): string {
  return /\.(md|markdown)$/i.test(markdownFile) ? markdownFile.replace(/\.(md|markdown)$/i, '.svg') : `${markdownFile}.svg`;
}
