// Dot segments in the part of a data-plane path after the endpoint name,
// resolved as RFC 3986 §5.2.4 remove_dot_segments does, so that an upstream
// never sees `..` and a path cannot name something above the endpoint's
// prefix. Where the RFC would clamp at the root, we refuse instead: the
// client asked for a path outside its endpoint. The check is allocation-free
// for a path without `.` or `%` before its query, which is nearly every path.

/** Why a path was refused; the two instances are preallocated. */
export interface PathRefusal {
  readonly message: string;
}

export const LEAVES_ENDPOINT: PathRefusal = { message: 'the path climbs out of the endpoint with ".." segments' };
export const ENCODED_SLASH_DOT: PathRefusal = {
  message: 'the path has a dot segment hidden behind an encoded slash (%2F or %5C); send the path with plain slashes',
};

const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;

/**
 * `path` (starting with `/`, query allowed) with its dot segments resolved,
 * the very same string when it has none, or why it is refused.
 */
export function resolveDotSegments(path: string): string | PathRefusal {
  const query = path.indexOf('?');
  const end = query === -1 ? path.length : query;
  const dot = path.indexOf('.');
  const percent = path.indexOf('%');
  if ((dot === -1 || dot >= end) && (percent === -1 || percent >= end)) return path;

  let found = false;
  for (let start = 1; ;) {
    const stop = segmentEnd(path, start, end);
    if (dotSegmentKind(path, start, stop) !== 0) found = true;
    else if (hidesDotSegment(path, start, stop)) return ENCODED_SLASH_DOT;
    if (stop === end) break;
    start = stop + 1;
  }
  if (!found) return path;

  const out: string[] = [];
  for (let start = 1; ;) {
    const stop = segmentEnd(path, start, end);
    const last = stop === end;
    const kind = dotSegmentKind(path, start, stop);
    if (kind === 2) {
      if (out.length === 0) return LEAVES_ENDPOINT;
      out.pop();
    }
    if (kind === 0) out.push(path.slice(start, stop));
    else if (last) out.push(''); // "/a/b/.." is "/a/": the trailing slash stays
    if (last) break;
    start = stop + 1;
  }
  return `/${out.join('/')}${path.slice(end)}`;
}

/** Whether the name a request puts first (its endpoint) is `.` or `..`, in any spelling. */
export function isDotSegment(text: string): boolean {
  return dotSegmentKind(text, 0, text.length) !== 0;
}

function segmentEnd(path: string, start: number, end: number): number {
  const slash = path.indexOf('/', start);
  return slash === -1 || slash > end ? end : slash;
}

/** 1 for `.`, 2 for `..` (each dot plain or as %2e / %2E), else 0. */
function dotSegmentKind(s: string, start: number, end: number): 0 | 1 | 2 {
  let dots = 0;
  for (let i = start; i < end;) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      i++;
    } else if (c === PERCENT && i + 2 < end && s.charCodeAt(i + 1) === 0x32 && (s.charCodeAt(i + 2) | 0x20) === 0x65) {
      i += 3;
    } else {
      return 0;
    }
    if (++dots > 2) return 0;
  }
  return dots as 0 | 1 | 2;
}

/**
 * A segment such as `..%2Fadmin` is one segment to us and to RFC 3986, but
 * `../admin` to an upstream that decodes %2F (or treats `\` as a slash)
 * before resolving. It cannot be resolved safely here, so it is refused;
 * an encoded slash elsewhere (`org%2Fmodel`) is left alone.
 */
function hidesDotSegment(s: string, start: number, end: number): boolean {
  let piece = start;
  let split = false;
  for (let i = start; i < end;) {
    const width = slashLikeWidth(s, i, end);
    if (width === 0) {
      i++;
      continue;
    }
    if (dotSegmentKind(s, piece, i) !== 0) return true;
    split = true;
    i += width;
    piece = i;
  }
  return split && dotSegmentKind(s, piece, end) !== 0;
}

/** 3 for %2F / %5C (any case), 1 for a raw backslash, else 0. */
function slashLikeWidth(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === BACKSLASH) return 1;
  if (c !== PERCENT || i + 2 >= end) return 0;
  const hi = s.charCodeAt(i + 1);
  const lo = s.charCodeAt(i + 2) | 0x20;
  return (hi === 0x32 && lo === 0x66) || (hi === 0x35 && lo === 0x63) ? 3 : 0;
}
