// The report's chart: green vs blue p95 latency and error rate per gate
// interval, over the rollout's time, with the policy's limits and a vertical
// line where each step started. Hand-written SVG on purpose: it is two panels
// of polylines, rects and text; a chart library would add a dependency (and a
// DOM or canvas) to the CLI that CI runners install, and its output could
// change under us. This output is plain, deterministic for the same evidence,
// and readable wherever SVG is (browsers, GitHub file views, IDEs).
import type { GateTick, RolloutEvidence } from './evidence.js';
import { formatLimitRate, formatMs, formatOffset, stepLabel } from './format.js';

const WIDTH = 860;
const LEFT = 72;
const RIGHT = 24;
const PLOT_W = WIDTH - LEFT - RIGHT;
const LABEL_ROWS = [64, 77, 90];
const LABEL_TOP = 54;
const P95_PANEL = { top: 102, height: 170 };
const ERROR_PANEL = { top: 304, height: 140 };
const HEIGHT = 496;
const CHAR_W = 6.1; // width of one 11px sans-serif character, roughly, for label placement

const COLOR = { green: '#1a7f37', blue: '#0969da', limit: '#cf222e', step: '#6e7781', grid: '#d8dee4', text: '#1f2328', muted: '#57606a' };
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

interface Panel {
  top: number;
  height: number;
  max: number;
  step: number;
}

export function renderChart(e: RolloutEvidence): string {
  const ticks = [...e.steps.flatMap((s) => s.ticks), ...e.unplacedTicks].sort((a, b) => a.atMs - b.atMs);
  const t0 = e.startedAtMs;
  const boundaries = e.steps
    .filter((s) => s.startedAtMs !== undefined)
    .map((s) => ({ label: stepLabel(s.index, s.description), short: String(s.index + 1), atMs: s.startedAtMs ?? t0, step: s.index }));
  const ends = [...ticks.map((t) => t.atMs), ...boundaries.map((b) => b.atMs), e.rollbackAtMs ?? t0, e.endedAtMs ?? t0];
  const spanMs = Math.max(1_000, ...ends.map((at) => at - t0));
  const timeStep = niceTimeStepMs(spanMs);
  const xMax = Math.ceil(spanMs / timeStep) * timeStep;
  const x = (atMs: number): number => LEFT + ((atMs - t0) / xMax) * PLOT_W;

  const p95 = series(
    ticks,
    (t) => t.windows.greenInterval.p95Ms,
    (t) => t.windows.blueInterval?.p95Ms ?? null,
  );
  const errors = series(
    ticks,
    (t) => pct(t.windows.greenInterval.errorRate),
    (t) => pct(t.windows.blueInterval?.errorRate ?? null),
  );
  const p95Limit = e.limits.p95Ms;
  const errorLimit = e.limits.errorRate === undefined ? undefined : e.limits.errorRate * 100;
  const p95Panel = panel(P95_PANEL, [...p95.green, ...p95.blue], p95Limit, 10);
  const errorPanel = panel(ERROR_PANEL, [...errors.green, ...errors.blue], errorLimit, 1);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT} font-size="11" role="img" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">${esc(`${e.workflowId}: green ${e.green} vs blue ${e.blue}, p95 latency and error rate per gate interval`)}</title>`,
    `<desc id="chart-desc">${esc(describeChart(e, ticks.length))}</desc>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="600" fill="${COLOR.text}">${esc(`${e.workflowId}: green "${e.green}" vs blue "${e.blue}", per gate interval`)}</text>`,
  );
  out.push(legend(e));

  out.push(axes(p95Panel, 'p95 latency (ms)', (v) => fmtNumber(v)));
  out.push(axes(errorPanel, 'error rate (%)', (v) => fmtNumber(v)));
  out.push(timeAxis(xMax, timeStep, x, t0));

  if (p95Limit !== undefined) out.push(limitLine(p95Panel, p95Limit, 'p95', `p95 limit ${formatMs(p95Limit)}`));
  if (errorLimit !== undefined && e.limits.errorRate !== undefined)
    out.push(limitLine(errorPanel, errorLimit, 'errorRate', `error rate limit ${formatLimitRate(e.limits.errorRate)}`));

  out.push(stepLines(boundaries, x));
  if (e.rollbackAtMs !== undefined) {
    const rx = round(x(e.rollbackAtMs));
    out.push(
      `<line class="rollback" x1="${rx}" y1="${P95_PANEL.top}" x2="${rx}" y2="${ERROR_PANEL.top + ERROR_PANEL.height}" stroke="${COLOR.limit}" stroke-width="1.5"/>`,
      `<text x="${round(rx - 3)}" y="${P95_PANEL.top + 12}" text-anchor="end" fill="${COLOR.limit}">rollback</text>`,
    );
  }

  const xs = ticks.map((t) => x(t.atMs));
  // Green last, on top: it is the one under test.
  out.push(line('blue-p95', xs, p95.blue, p95Panel, COLOR.blue), line('green-p95', xs, p95.green, p95Panel, COLOR.green));
  out.push(line('blue-error-rate', xs, errors.blue, errorPanel, COLOR.blue), line('green-error-rate', xs, errors.green, errorPanel, COLOR.green));
  if (ticks.length === 0) {
    out.push(
      `<text x="${LEFT + PLOT_W / 2}" y="${P95_PANEL.top + P95_PANEL.height / 2}" text-anchor="middle" fill="${COLOR.muted}" font-size="13">no gate readings yet</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function describeChart(e: RolloutEvidence, readings: number): string {
  const limits = [
    e.limits.p95Ms !== undefined ? `p95 limit ${formatMs(e.limits.p95Ms)}` : '',
    e.limits.errorRate !== undefined ? `error rate limit ${formatLimitRate(e.limits.errorRate)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${readings} gate readings. Top: p95 latency in milliseconds; bottom: error rate in percent; both per gate interval (the window since the previous reading), green vs blue. ${limits}. Vertical dashed lines: step starts.`;
}

function legend(e: RolloutEvidence): string {
  const items: [string, string][] = [
    [`<line x1="0" y1="-4" x2="22" y2="-4" stroke="${COLOR.green}" stroke-width="2"/>`, `green "${e.green}"`],
    [`<line x1="0" y1="-4" x2="22" y2="-4" stroke="${COLOR.blue}" stroke-width="2"/>`, `blue "${e.blue}" (live)`],
    [`<line x1="0" y1="-4" x2="22" y2="-4" stroke="${COLOR.limit}" stroke-width="1.5" stroke-dasharray="6 4"/>`, 'policy limit'],
    [`<line x1="0" y1="-4" x2="22" y2="-4" stroke="${COLOR.step}" stroke-dasharray="3 3"/>`, 'step start'],
  ];
  let at = LEFT;
  const parts = items.map(([mark, text]) => {
    const g = `<g transform="translate(${round(at)} 44)">${mark}<text x="28" y="0" fill="${COLOR.text}">${esc(text)}</text></g>`;
    at += 28 + text.length * CHAR_W + 22;
    return g;
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

function axes(p: Panel, title: string, label: (v: number) => string): string {
  const parts = [`<g class="axis" data-axis="${esc(title)}">`];
  for (let v = 0; v <= p.max + p.step / 1000; v += p.step) {
    const y = round(yOf(p, v));
    parts.push(`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT_W}" y2="${y}" stroke="${COLOR.grid}"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${round(y + 4)}" text-anchor="end" fill="${COLOR.muted}">${label(v)}</text>`);
  }
  const mid = round(p.top + p.height / 2);
  parts.push(`<text x="16" y="${mid}" transform="rotate(-90 16 ${mid})" text-anchor="middle" fill="${COLOR.text}">${esc(title)}</text>`);
  parts.push(`<rect x="${LEFT}" y="${p.top}" width="${PLOT_W}" height="${p.height}" fill="none" stroke="${COLOR.step}"/>`);
  parts.push('</g>');
  return parts.join('\n');
}

function timeAxis(xMax: number, stepMs: number, x: (atMs: number) => number, t0: number): string {
  const bottom = ERROR_PANEL.top + ERROR_PANEL.height;
  const parts = ['<g class="axis" data-axis="time">'];
  for (let ms = 0; ms <= xMax; ms += stepMs) {
    const px = round(x(t0 + ms));
    parts.push(`<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 5}" stroke="${COLOR.step}"/>`);
    parts.push(`<line x1="${px}" y1="${P95_PANEL.top + P95_PANEL.height}" x2="${px}" y2="${P95_PANEL.top + P95_PANEL.height + 5}" stroke="${COLOR.step}"/>`);
    parts.push(`<text x="${px}" y="${bottom + 17}" text-anchor="middle" fill="${COLOR.muted}">${formatOffset(ms)}</text>`);
  }
  parts.push(`<text x="${LEFT + PLOT_W / 2}" y="${bottom + 38}" text-anchor="middle" fill="${COLOR.text}">time since the rollout started (m:ss)</text>`);
  parts.push('</g>');
  return parts.join('\n');
}

function limitLine(p: Panel, value: number, metric: string, text: string): string {
  if (value > p.max) {
    return `<text class="limit" data-limit="${metric}" x="${LEFT + PLOT_W - 4}" y="${p.top + 13}" text-anchor="end" fill="${COLOR.limit}">${esc(`${text}: above this scale`)} ↑</text>`;
  }
  const y = round(yOf(p, value));
  return [
    `<line class="limit" data-limit="${metric}" x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT_W}" y2="${y}" stroke="${COLOR.limit}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text x="${LEFT + PLOT_W - 4}" y="${round(y - 4)}" text-anchor="end" fill="${COLOR.limit}">${esc(text)}</text>`,
  ].join('\n');
}

/** A dashed line per step start, labelled above the chart in up to three rows so close steps stay legible. */
function stepLines(boundaries: { label: string; short: string; atMs: number; step: number }[], x: (atMs: number) => number): string {
  const rowEnds = LABEL_ROWS.map(() => -Infinity);
  const parts = ['<g class="steps">'];
  for (const b of [...boundaries].sort((a, c) => a.atMs - c.atMs)) {
    const px = round(x(b.atMs));
    // The full label is the line's tooltip too, for steps too crowded to label.
    parts.push(
      `<line class="step-boundary" data-step="${b.step + 1}" x1="${px}" y1="${LABEL_TOP}" x2="${px}" y2="${ERROR_PANEL.top + ERROR_PANEL.height}" stroke="${COLOR.step}" stroke-dasharray="3 3"><title>${esc(b.label)}</title></line>`,
    );
    for (const text of [b.label, b.short]) {
      const width = text.length * CHAR_W;
      // Right of the line, or left of it near the chart's right edge.
      const anchorEnd = px + 3 + width > WIDTH - 2;
      const start = anchorEnd ? px - 3 - width : px + 3;
      const row = rowEnds.findIndex((end) => start > end + 4);
      if (row === -1) continue;
      rowEnds[row] = start + width;
      parts.push(
        `<text class="step-label" data-step="${b.step + 1}" x="${round(anchorEnd ? px - 3 : px + 3)}" y="${LABEL_ROWS[row]}"${anchorEnd ? ' text-anchor="end"' : ''} fill="${COLOR.text}">${esc(text)}</text>`,
      );
      break;
    }
  }
  parts.push('</g>');
  return parts.join('\n');
}

function line(name: string, xs: number[], values: (number | null)[], p: Panel, color: string): string {
  const d: string[] = [];
  let pen = false;
  const dots: string[] = [];
  values.forEach((v, i) => {
    const px = xs[i];
    if (v === null || px === undefined) {
      pen = false;
      return;
    }
    const py = round(yOf(p, v));
    d.push(`${pen ? 'L' : 'M'}${round(px)} ${py}`);
    dots.push(`<circle cx="${round(px)}" cy="${py}" r="2.2" fill="${color}"/>`);
    pen = true;
  });
  const path = d.length > 0 ? `<path d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>` : '';
  return `<g class="series" data-series="${name}">${path}${dots.join('')}</g>`;
}

function series(
  ticks: GateTick[],
  green: (t: GateTick) => number | null,
  blue: (t: GateTick) => number | null,
): { green: (number | null)[]; blue: (number | null)[] } {
  return { green: ticks.map(green), blue: ticks.map(blue) };
}

/**
 * The scale shows every value and the limit, unless the limit is so far above
 * the values (over 3×) that including it would flatten green and blue into
 * one line at the bottom; the limit is then written at the top instead.
 */
function panel(box: { top: number; height: number }, values: (number | null)[], limit: number | undefined, floor: number): Panel {
  const highest = Math.max(floor, ...values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const max = limit !== undefined && limit <= highest * 3 ? Math.max(highest, limit) : highest;
  const step = niceStep(max * 1.08);
  return { ...box, step, max: Math.ceil((max * 1.08) / step) * step };
}

function yOf(p: Panel, v: number): number {
  return p.top + p.height - (Math.min(Math.max(v, 0), p.max) / p.max) * p.height;
}

/** 1, 2, 2.5 or 5 times a power of ten, giving about four gridlines. */
function niceStep(max: number): number {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * magnitude;
}

function niceTimeStepMs(spanMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400];
  const wanted = spanMs / 1000 / 8;
  return (steps.find((s) => s >= wanted) ?? Math.ceil(wanted / 86_400) * 86_400) * 1000;
}

function pct(fraction: number | null): number | null {
  return fraction === null ? null : fraction * 100;
}

function fmtNumber(v: number): string {
  return String(Number(v.toFixed(3)));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
