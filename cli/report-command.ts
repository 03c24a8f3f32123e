// `saferoll report`: the evidence of a rollout (verdict, gate readings against
// their limits, decision trail, chart) as markdown for a pull-request comment,
// JSON for scripts or one HTML page.
import path from 'node:path';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { collectEvidence } from './report/collect-evidence.js';
import { headline } from './report/format.js';
import { REPORT_FORMATS, renderReport, writeReport, type ReportFormat } from './report/write-report.js';
import { TEMPORAL_ENV_HELP, TEMPORAL_FLAGS, TEMPORAL_HELP, resolveConfig, withSession } from './session.js';

const usage = `Usage: saferoll report <endpoint> [--run <id>] [--format md|json|html] [--out <file>] [--chart-url <url>]

Writes the evidence of the rollout on an endpoint (the latest one, or the one
--run names; a running rollout is reported so far): its outcome and reason,
each step with its gate readings (green and blue p95, p99, error rate and
request counts) against the policy's limits, the decision trail, and a chart
of green vs blue p95 latency and error rate with the step starts (SVG). Every
figure names the metric and window it comes from, and each reading the
workflow history event that carries it.

Options:
  --run <id>              a run id of an earlier rollout on the endpoint (any run
                          of it, e.g. the runId start --json printed); default the latest
  --format md|json|html   md (default): for a pull-request comment; json: every
                          reading with its raw windows; html: one page, chart inline
  --out <file>            write to this file instead of stdout; with md, the chart
                          is written next to it with the extension .svg
  --chart-url <url>       md only: link the chart image here (where CI published the
                          .svg) instead of the .svg next to --out
${TEMPORAL_HELP}
  -h, --help              this help

Exit codes: 0 written (whatever the rollout's outcome), 2 no such rollout or bad
input, 3 Temporal unreachable.

${TEMPORAL_ENV_HELP}`;

export const reportCommand: Command = {
  name: 'report',
  summary: "write a rollout's evidence: verdict, gate readings vs limits, decisions, chart (md/json/html)",
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      { ...TEMPORAL_FLAGS, run: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, 'chart-url': { type: 'string' } },
      true,
    );
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError('which endpoint? saferoll report <endpoint> [--format md|json|html]');
    const endpoint = checkName(positionals[0], 'endpoint');
    const format = (values.format ?? 'md') as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}, got "${values.format}"`);
    const chartUrl = values['chart-url'];
    if (chartUrl !== undefined && format !== 'md') throw new UsageError(`--chart-url applies to --format md only (html inlines the chart, json has none)`);
    if (values.out === '') throw new UsageError('--out needs a file name');

    const evidence = await withSession(resolveConfig(values), (session) => collectEvidence(session, endpoint, values.run));
    if (values.out === undefined) {
      process.stdout.write(renderReport(evidence, format, chartUrl));
      return EXIT.ok;
    }
    const written = await writeReport(evidence, format, values.out, chartUrl);
    console.log(`${evidence.workflowId}: ${headline(evidence)}; wrote ${written.map((f) => path.relative(process.cwd(), f) || f).join(' and ')}`);
    return EXIT.ok;
  },
};
