// A tiny JSON path reader for custom checks (the `web` provider reads, the policy schema validates): `$`, `.key`, `['key']`,
// `["key"]`, `[0]`. No wildcards or filters: a check reads one number.

export type JsonPath = (string | number)[];

const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;

/** Parses `$.a.b[0]`; throws a RangeError saying where it stopped making sense. */
export function parseJsonPath(text: string): JsonPath {
  if (!text.startsWith('$')) throw new RangeError(`"${text}" is not a JSON path: start with $, e.g. $.p95 or $.data[0].value`);
  const path: JsonPath = [];
  SEGMENT.lastIndex = 1;
  while (SEGMENT.lastIndex < text.length) {
    const at = SEGMENT.lastIndex;
    const match = SEGMENT.exec(text);
    if (match === null) throw new RangeError(`JSON path "${text}": cannot read from "${text.slice(at)}" (use .key, [0] or ['key'])`);
    const [, key, index, single, double] = match;
    path.push(index !== undefined ? Number(index) : (key ?? single ?? double ?? ''));
  }
  return path;
}

/** The value at `path`, or undefined when any step is missing. */
export function readJsonPath(data: unknown, path: JsonPath): unknown {
  let node = data;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(node)) return undefined;
      node = node[segment];
    } else {
      if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, segment)) return undefined;
      node = (node as Record<string, unknown>)[segment];
    }
  }
  return node;
}
