// A small parser of the Prometheus text exposition format (version 0.0.4),
// enough for the router's /metrics: samples with labels, special values, and
// comments skipped. Lines whose metric name matches none of the wanted
// prefixes are skipped before any parsing, because the router also exports
// prom-client's default process and Node.js metrics that a gate never reads.
import { SaferollError } from '../shared/errors.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const HASH = 0x23;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * The samples of every family whose name starts with one of `namePrefixes`.
 * A timestamp after the value is accepted and ignored. A line that is not
 * valid exposition text is a SAFEROLL_E_METRICS error naming its line.
 */
export function parsePrometheusText(text: string, namePrefixes: string | readonly string[]): Sample[] {
  const prefixes = typeof namePrefixes === 'string' ? [namePrefixes] : namePrefixes;
  const samples: Sample[] = [];
  let lineNo = 0;
  let pos = 0;
  while (pos < text.length) {
    lineNo++;
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    let start = pos;
    pos = end + 1;
    while (start < end && isBlank(text.charCodeAt(start))) start++;
    if (start === end || text.charCodeAt(start) === HASH) continue;
    if (!prefixes.some((prefix) => text.startsWith(prefix, start))) continue;
    if (text.charCodeAt(end - 1) === CR) end--;
    samples.push(parseLine(text, start, end, lineNo));
  }
  return samples;
}

function parseLine(text: string, start: number, end: number, lineNo: number): Sample {
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || isBlank(c)) break;
    i++;
  }
  const name = text.slice(start, i);
  // No prototype: a label named "__proto__" or "constructor" is just a label.
  const labels = Object.create(null) as Record<string, string>;
  while (i < end && isBlank(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) === OPEN_BRACE) i = parseLabels(text, i + 1, end, labels, lineNo);
  while (i < end && isBlank(text.charCodeAt(i))) i++;
  let valueEnd = i;
  while (valueEnd < end && !isBlank(text.charCodeAt(valueEnd))) valueEnd++;
  const value = parseValue(text.slice(i, valueEnd));
  if (value === undefined) throw malformed(lineNo, `"${name}" has no valid value`);
  return { name, labels, value };
}

/** Parses `a="x",b="y"}` from just after the `{`; returns the index after the `}`. */
function parseLabels(text: string, from: number, end: number, labels: Record<string, string>, lineNo: number): number {
  let i = from;
  for (;;) {
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    if (i >= end) throw malformed(lineNo, 'unterminated label set');
    if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
    const eq = text.indexOf('=', i);
    if (eq === -1 || eq >= end) throw malformed(lineNo, 'label without "="');
    const labelName = text.slice(i, eq).trim();
    i = eq + 1;
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== QUOTE) throw malformed(lineNo, `label "${labelName}" has an unquoted value`);
    i++;
    // Copy runs of plain characters in one slice; only escapes are handled one by one.
    let value = '';
    let runStart = i;
    for (;;) {
      if (i >= end) throw malformed(lineNo, `label "${labelName}" has an unterminated value`);
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        value += text.slice(runStart, i);
        const next = text.charCodeAt(i + 1);
        // The format defines \\, \" and \n; anything else is kept as written.
        value += next === 0x6e ? '\n' : next === BACKSLASH ? '\\' : next === QUOTE ? '"' : text.slice(i, i + 2);
        i += 2;
        runStart = i;
        continue;
      }
      i++;
    }
    labels[labelName] = value + text.slice(runStart, i);
    i++;
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    if (i >= end) throw malformed(lineNo, 'unterminated label set');
    const sep = text.charCodeAt(i);
    if (sep === COMMA) i++;
    else if (sep !== CLOSE_BRACE) throw malformed(lineNo, `expected "," or "}" after label "${labelName}"`);
  }
}

function parseValue(token: string): number | undefined {
  if (token === '') return undefined;
  const value = Number(token);
  if (!Number.isNaN(value)) return value;
  // Like Go's ParseFloat, which Prometheus uses: NaN and Inf in any case
  // (prom-client writes "Nan" for an empty event-loop histogram).
  switch (token.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

function malformed(lineNo: number, message: string): SaferollError {
  return new SaferollError('SAFEROLL_E_METRICS', `metrics text line ${lineNo}: ${message}`);
}
