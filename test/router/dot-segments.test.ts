// RFC 3986 remove_dot_segments on the path after the endpoint name: resolved
// inside the endpoint, refused when it would leave it or hide behind %2F.
import { describe, expect, it } from 'vitest';
import { ENCODED_SLASH_DOT, LEAVES_ENDPOINT, isDotSegment, resolveDotSegments } from '../../router/dot-segments.js';

describe('resolveDotSegments', () => {
  it.each([
    ['/score', '/score'],
    ['/', '/'],
    ['/v1.2/model.json?x=../..', '/v1.2/model.json?x=../..'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/c/./../../g', '/a/g'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/./', '/a/'],
    ['/./', '/'],
    ['/a/..', '/'],
    ['/a//../b', '/a/b'],
    ['/a/%2e/b/%2E%2e/c', '/a/c'],
    ['/a/.%2E/b?q=/../', '/b?q=/../'],
    ['/.../x', '/.../x'],
    ['/a%2eb/..c/c..', '/a%2eb/..c/c..'],
    ['/org%2Fmodel/score', '/org%2Fmodel/score'],
    ['/%2e%2', '/%2e%2'],
  ])('%s -> %s', (path, expected) => {
    expect(resolveDotSegments(path)).toBe(expected);
  });

  it('returns the very same string when there is nothing to resolve', () => {
    const path = `/v1/${'model'}.json`;
    expect(resolveDotSegments(path)).toBe(path);
  });

  it.each(['/..', '/../other/x', '/%2e%2e/x', '/%2E./x', '/a/../../x', '/a/%2e%2E/%2e%2e/b', '/./..'])('%s leaves the endpoint', (path) => {
    expect(resolveDotSegments(path)).toBe(LEAVES_ENDPOINT);
  });

  it.each(['/..%2fadmin', '/a/%2e%2e%2F..%2Fx', '/x%5c..', '/..\\x', '/a/.%2fb'])('%s hides a dot segment behind an encoded slash', (path) => {
    expect(resolveDotSegments(path)).toBe(ENCODED_SLASH_DOT);
  });
});

describe('isDotSegment', () => {
  it.each([
    ['.', true],
    ['..', true],
    ['%2e', true],
    ['%2E.', true],
    ['...', false],
    ['', false],
    ['scoring', false],
    ['%2f', false],
  ])('%s: %s', (name, expected) => {
    expect(isDotSegment(name)).toBe(expected);
  });
});
