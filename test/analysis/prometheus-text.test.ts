import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../analysis/prometheus-text.js';
import { isSaferollError } from '../../shared/errors.js';

describe('parsePrometheusText', () => {
  it('reads samples with labels and skips comments, HELP and TYPE lines', () => {
    const text = [
      '# HELP saferoll_requests_total Requests answered.',
      '# TYPE saferoll_requests_total counter',
      'saferoll_requests_total{endpoint="ep",deployment="blue",traffic="live",code="200"} 42',
      '',
      '   # an indented comment',
      'saferoll_requests_total{endpoint="ep",deployment="blue",traffic="live",code="500"} 3 1712345678901',
    ].join('\n');
    expect(parsePrometheusText(text, 'saferoll_')).toEqual([
      { name: 'saferoll_requests_total', labels: { endpoint: 'ep', deployment: 'blue', traffic: 'live', code: '200' }, value: 42 },
      { name: 'saferoll_requests_total', labels: { endpoint: 'ep', deployment: 'blue', traffic: 'live', code: '500' }, value: 3 },
    ]);
  });

  it('unescapes quotes, backslashes and newlines in label values', () => {
    const text = String.raw`saferoll_x{path="C:\\dir\\file",msg="say \"hi\"\nbye",odd="a\tb",brace="}{,="} 1`;
    const [sample] = parsePrometheusText(text, 'saferoll_');
    expect(sample?.labels).toEqual({ path: 'C:\\dir\\file', msg: 'say "hi"\nbye', odd: 'a\\tb', brace: '}{,=' });
  });

  it('reads +Inf, -Inf, NaN (in any case, as Go and prom-client write them), exponents and samples without labels', () => {
    const text = [
      'saferoll_bucket{le="+Inf"} +Inf',
      'saferoll_low -Inf',
      'saferoll_nan NaN',
      'saferoll_nan_prom_client Nan',
      'saferoll_inf_lower +inf',
      'saferoll_exp 1.5e3',
      'saferoll_empty{} 7',
      'saferoll_trailing_comma{a="1",} 2',
    ].join('\n');
    const values = parsePrometheusText(text, 'saferoll_').map((s) => [s.name, s.value]);
    expect(values).toEqual([
      ['saferoll_bucket', Number.POSITIVE_INFINITY],
      ['saferoll_low', Number.NEGATIVE_INFINITY],
      ['saferoll_nan', Number.NaN],
      ['saferoll_nan_prom_client', Number.NaN],
      ['saferoll_inf_lower', Number.POSITIVE_INFINITY],
      ['saferoll_exp', 1500],
      ['saferoll_empty', 7],
      ['saferoll_trailing_comma', 2],
    ]);
  });

  it('keeps only families whose name starts with one of the prefixes', () => {
    const text = [
      'nodejs_heap_size_total_bytes 1234',
      'process_start_time_seconds 1700000000',
      'saferoll_requests_total{code="200"} 1',
      'saferoll_mirror_shed_total 9',
      'not_saferoll_requests_total 5',
    ].join('\n');
    expect(parsePrometheusText(text, ['saferoll_requests', 'process_start_time_seconds']).map((s) => s.name)).toEqual([
      'process_start_time_seconds',
      'saferoll_requests_total',
    ]);
  });

  it('does not even parse lines of families it skips', () => {
    expect(parsePrometheusText('other_metric{broken 1\nsaferoll_ok 1', 'saferoll_')).toHaveLength(1);
  });

  it('accepts CRLF line ends and a last line without newline', () => {
    expect(parsePrometheusText('saferoll_a 1\r\nsaferoll_b{x="y"} 2\r\nsaferoll_c 3', 'saferoll_').map((s) => s.value)).toEqual([1, 2, 3]);
  });

  it('treats a label named __proto__ as a plain label', () => {
    const [sample] = parsePrometheusText('saferoll_a{__proto__="x"} 1', 'saferoll_');
    expect(Object.keys(sample?.labels ?? {})).toEqual(['__proto__']);
  });

  it.each([
    ['saferoll_a{x="1"', 'unterminated label set'],
    ['saferoll_a{x=1} 2', 'unquoted value'],
    ['saferoll_a{x="1} 2', 'unterminated value'],
    ['saferoll_a{x="1" y="2"} 2', 'expected "," or "}"'],
    ['saferoll_a', 'no valid value'],
    ['saferoll_a twelve', 'no valid value'],
  ])('rejects %j with SAFEROLL_E_METRICS naming the line', (line, message) => {
    let caught: unknown;
    try {
      parsePrometheusText(`# ok\n${line}`, 'saferoll_');
    } catch (err) {
      caught = err;
    }
    expect(isSaferollError(caught) && caught.code).toBe('SAFEROLL_E_METRICS');
    expect((caught as Error).message).toContain('line 2');
    expect((caught as Error).message).toContain(message);
  });
});
