// The report's renderings of one fixed rollout: markdown for a pull-request
// comment, JSON, one HTML page and the SVG chart. The SVG and the HTML are
// parsed and laid out by Chromium, as a reader's browser would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutEvidence } from '../../../cli/report/evidence.js';
import { renderHtml } from '../../../cli/report/render-html.js';
import { renderJson } from '../../../cli/report/render-json.js';
import { MD_READINGS_PER_STEP, renderMarkdown } from '../../../cli/report/render-md.js';
import { renderChart } from '../../../cli/report/render-svg.js';
import { launchTestBrowser, type TestBrowser } from '../../support/browser.js';
import { fixtureEvidence } from './fixture.js';

// The page's globals, for the functions that run in Chromium (the project compiles without the DOM lib).
interface PageElement {
  nodeName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  getElementsByTagName(name: string): Iterable<PageElement>;
}
interface PageDocument extends PageElement {
  documentElement: PageElement;
  body: PageElement;
  title: string;
}
declare const DOMParser: new () => { parseFromString(text: string, type: string): PageDocument };
declare const document: PageDocument;

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchTestBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('markdown', () => {
  const md = renderMarkdown(fixtureEvidence(), { chartHref: 'report.svg' });
  const lines = md.split('\n');

  it('opens with the verdict, the reason and the failed step', () => {
    expect(lines[0]).toBe('## ❌ saferoll: ROLLED BACK `rollout-scoring`');
    expect(md).toContain(
      'Green **`v2`** replacing blue **`v1`** on endpoint **`scoring`**, policy **`fixture`** (fixture.yaml): 7s, 2026-01-15 10:00:00Z → 2026-01-15 10:00:06Z.',
    );
    expect(md).toContain('**Reason:** gate failed: failed: p95 312ms > 250ms FAILED');
    expect(md).toContain('**Failed step:** 3 traffic 10% 3s');
    expect(md).toContain("**The workflow's last gate reading:** Failed (step window, green n=50, blue n=460): p95 312ms > 250ms FAILED;");
  });

  it('lists every limit of the policy with the series it is computed from', () => {
    expect(lines).toContain(
      "| green p95 latency | ≤ 250 ms | histogram_quantile(0.95) of green's `saferoll_request_duration_seconds` buckets over the window |",
    );
    expect(lines).toContain(
      "| green p99 latency | ≤ 1000 ms | histogram_quantile(0.99) of green's `saferoll_request_duration_seconds` buckets over the window |",
    );
    expect(md).toMatch(/^\| green error rate \| ≤ 1% \| green's `saferoll_requests_total` answered 5xx/m);
    expect(md).toMatch(/^\| green p95 ÷ blue p95 \| ≤ 1\.25× \|/m);
    expect(md).toMatch(/^\| green − blue error rate \| ≤ 0\.5% \|/m);
    expect(md).toMatch(/^\| green answers \| ≥ 20 \|/m);
    expect(md).toMatch(/^\| gate interval \| every 1s \|/m);
  });

  it('gives each step its deciding reading against the limits', () => {
    expect(lines).toContain('| 1 create | passed | +0:00 | – | | | | | | | | | |');
    expect(lines).toContain('| 2 mirror 10% 3s | passed | +0:01 | 3 | step | 90 | 42 ms | 88 ms | 0.0% | 900 | 41 ms | 0.1% | Successful |');
    expect(lines).toContain(
      '| 3 traffic 10% 3s | rolled back | +0:04 | 2 | step | 50 | 312 ms | 480 ms | 0.0% | 460 | 45 ms | 0.0% | Failed: p95 312ms > 250ms FAILED; p95/blue 6.93x > 1.25x FAILED |',
    );
    expect(lines).toContain('| 4 approval | not reached | – | – | | | | | | | | | |');
    // Every row has as many cells as the header.
    const header = lines.find((l) => l.startsWith('| step |'));
    const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    for (const row of lines.filter((l) => /^\| \d /.test(l))) expect(cells(row), row).toBe(cells(header ?? ''));
  });

  it('lists every reading with the history event it came from, folded per step', () => {
    expect(md).toContain('<details><summary>Step 2 mirror 10% 3s: 3 readings</summary>');
    expect(lines).toContain('| +0:02 | #40 | step | 30 | 40 ms | 80 ms | 0.0% | 300 | 38 ms | 0.0% | Successful |');
    expect(lines).toContain(
      '| +0:06 | #91 | step | 50 | 312 ms | 480 ms | 0.0% | 460 | 45 ms | 0.0% | Failed: p95 312ms > 250ms FAILED; p95/blue 6.93x > 1.25x FAILED |',
    );
  });

  it('shows the decision trail as written: no HTML rendered, no row broken', () => {
    expect(lines).toContain('| +0:03 | 2 | operator | paused \\| by &lt;b>ops&lt;/b> & co |');
    expect(lines).toContain('| +0:06 | 3 | rollback | rolling back: gate failed: p95 312ms > 250ms |');
  });

  it('links the chart, and says where the numbers come from', () => {
    expect(md).toContain('![green vs blue p95 latency and error rate per gate interval, with the step starts](report.svg)');
    expect(renderMarkdown(fixtureEvidence())).toContain('_Chart: `saferoll report --out FILE.md` writes it next to the report as FILE.svg');
    expect(md).toMatch(/<sub>Every figure comes from the `measureWindows` activity results in the workflow history/);
  });

  it("keeps a long bake's latest readings, and says how to get all of them", () => {
    const e = fixtureEvidence();
    const mirror = e.steps[1];
    if (!mirror) throw new Error('fixture has a mirror step');
    const first = mirror.ticks[0];
    if (!first) throw new Error('fixture mirror step has readings');
    mirror.ticks = Array.from({ length: MD_READINGS_PER_STEP + 5 }, (_, i) => ({ ...first, eventId: 1000 + i }));
    const long = renderMarkdown(e);
    expect(long).toContain(`_The latest ${MD_READINGS_PER_STEP} of ${MD_READINGS_PER_STEP + 5}; all of them: \`--format json\` or \`--format html\`._`);
    expect(long).not.toContain('| #1004 |');
    expect(long).toContain(`| #${1000 + MD_READINGS_PER_STEP + 4} |`);
  });
});

describe('json', () => {
  it('is the whole evidence, every reading with its four windows as measured', () => {
    const e = fixtureEvidence();
    const parsed = JSON.parse(renderJson(e)) as RolloutEvidence;
    expect(parsed).toEqual(JSON.parse(JSON.stringify(e)));
    expect(parsed.schema).toBe('saferoll.report/v1');
    expect(parsed.steps[2]?.ticks[1]?.windows.greenStep).toMatchObject({ requests: 50, p95Ms: 312, p99Ms: 480 });
    expect(parsed.steps[2]?.ticks[1]?.windows.blueInterval).toMatchObject({ requests: 230, p95Ms: 46 });
  });
});

describe('svg chart', () => {
  const e = fixtureEvidence();
  const svg = renderChart(e);

  /** Parsed by the browser's XML parser: any well-formedness error shows as a parsererror element. */
  async function parse(text: string) {
    return browser.page.evaluate((source) => {
      const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
      const attr = (selector: string, name: string) => [...doc.querySelectorAll(selector)].map((el) => el.getAttribute(name) ?? '');
      return {
        errors: [...doc.getElementsByTagName('parsererror')].map((el) => el.textContent ?? ''),
        root: doc.documentElement.nodeName,
        boundaries: [...doc.querySelectorAll('line.step-boundary')].map((el) => ({ step: el.getAttribute('data-step'), x: Number(el.getAttribute('x1')) })),
        labels: [...doc.querySelectorAll('text.step-label')].map((el) => el.textContent),
        limits: attr('line.limit', 'data-limit'),
        p95LimitY: Number(doc.querySelector('line.limit[data-limit="p95"]')?.getAttribute('y1')),
        greenP95: [...doc.querySelectorAll('g[data-series="green-p95"] circle')].map((c) => ({
          x: Number(c.getAttribute('cx')),
          y: Number(c.getAttribute('cy')),
        })),
        blueP95: doc.querySelectorAll('g[data-series="blue-p95"] circle').length,
        errorSeries: doc.querySelectorAll('g[data-series="green-error-rate"] circle').length,
        rollback: doc.querySelectorAll('line.rollback').length,
        text: doc.documentElement.textContent ?? '',
      };
    }, text);
  }

  it("is well-formed SVG with both panels' axes and units", async () => {
    const chart = await parse(svg);
    expect(chart.errors).toEqual([]);
    expect(chart.root).toBe('svg');
    expect(chart.text).toContain('p95 latency (ms)');
    expect(chart.text).toContain('error rate (%)');
    expect(chart.text).toContain('time since the rollout started (m:ss)');
  });

  it('draws a labelled line where each step started, in time order between the readings around it', async () => {
    const chart = await parse(svg);
    expect(chart.boundaries.map((b) => b.step)).toEqual(['1', '2', '3']);
    expect(chart.labels).toEqual(['1 create', '2 mirror 10% 3s', '3 traffic 10% 3s']);
    const [create, mirror, traffic] = chart.boundaries.map((b) => b.x);
    const xs = chart.greenP95.map((p) => p.x);
    // Mirror readings (the first three) lie between the mirror and traffic lines; traffic readings after it.
    expect(create).toBeLessThan(mirror ?? 0);
    expect(Math.max(...xs.slice(0, 3))).toBeLessThan(traffic ?? 0);
    expect(Math.min(...xs.slice(0, 3))).toBeGreaterThan(mirror ?? Infinity);
    expect(Math.min(...xs.slice(3))).toBeGreaterThan(traffic ?? Infinity);
    expect(chart.rollback).toBe(1);
  });

  it('plots green and blue per interval against the limits: the 330 ms interval sits above the 250 ms line', async () => {
    const chart = await parse(svg);
    expect(chart.limits).toEqual(['p95', 'errorRate']);
    expect(chart.greenP95).toHaveLength(5);
    expect(chart.blueP95).toBe(5);
    expect(chart.errorSeries).toBe(5);
    const last = chart.greenP95.at(-1);
    const others = chart.greenP95.slice(0, -1);
    // SVG y grows downwards.
    expect(last?.y).toBeLessThan(chart.p95LimitY);
    for (const p of others) expect(p.y).toBeGreaterThan(chart.p95LimitY);
  });

  it('writes a limit far above every reading at the top instead of flattening the lines', async () => {
    const calm = fixtureEvidence();
    calm.limits.p95Ms = 5_000;
    const chart = await parse(renderChart(calm));
    expect(chart.limits).toEqual(['errorRate']);
    expect(chart.text).toContain('p95 limit 5000 ms: above this scale');
  });

  it('stays well-formed with names that are markup, and without any reading', async () => {
    const odd = fixtureEvidence();
    odd.green = 'a<b>&"c\'';
    odd.steps = odd.steps.map((s) => ({ ...s, ticks: [] }));
    const chart = await parse(renderChart(odd));
    expect(chart.errors).toEqual([]);
    expect(chart.text).toContain('green "a<b>&"c\'"');
    expect(chart.text).toContain('no gate readings yet');
  });

  it('is the same for the same evidence', () => {
    expect(renderChart(fixtureEvidence())).toBe(svg);
  });
});

describe('html', () => {
  it('is one page with the chart inline, every window of every reading, and text escaped', async () => {
    const html = renderHtml(fixtureEvidence());
    await browser.page.setContent(html);
    const page = await browser.page.evaluate(() => ({
      title: document.title,
      chartLines: document.querySelectorAll('figure svg line.step-boundary').length,
      readingTables: document.querySelectorAll('details table').length,
      readingRows: [...document.querySelectorAll('details table tr')]
        .filter((tr) => tr.querySelector('td'))
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      bold: [...document.querySelectorAll('b')].map((b) => b.textContent),
      text: document.body.textContent ?? '',
      scripts: document.querySelectorAll('script').length,
    }));
    expect(page.title).toBe('saferoll: ROLLED BACK rollout-scoring');
    expect(page.chartLines).toBe(3);
    expect(page.readingTables).toBe(2);
    // at, event, traffic, step window green (4) and blue (4), interval window green (4) and blue (4), verdict.
    expect(page.readingRows.at(-1)).toEqual([
      '+0:06',
      '#91',
      'live',
      '50',
      '312 ms',
      '480 ms',
      '0.0%',
      '460',
      '45 ms',
      '82 ms',
      '0.0%',
      '25',
      '330 ms',
      '500 ms',
      '0.0%',
      '230',
      '46 ms',
      '84 ms',
      '0.0%',
      'Failed: p95 312ms > 250ms FAILED; p95/blue 6.93x > 1.25x FAILED (step)',
    ]);
    expect(page.text).toContain('paused | by <b>ops</b> & co');
    expect(page.bold).not.toContain('ops');
    expect(page.scripts).toBe(0);
    expect(page.text).toContain('≤ 250 ms');
  });
});
