// Names that user input may not use as a name or a map key. A plain object
// already answers to them (`{}["constructor"]` is the Object function, and
// `obj["__proto__"] = v` replaces the prototype), so a lookup or a copy keyed
// by them reads or writes the language's own objects instead of user data.
// The set is every name on Object.prototype, plus `prototype`: principled
// rather than a list of known exploits, and stable across runtimes.

export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'constructor',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
  'prototype',
]);

export function isReservedKey(key: string): boolean {
  return RESERVED_KEYS.has(key);
}

export function reservedKeyMessage(key: string): string {
  return `"${key}" is a reserved name (every JavaScript object already has it); choose another`;
}

/**
 * A null-prototype object with `entries`: for maps that must stay plain
 * JSON-able data (a process's environment, a policy's headers) yet answer
 * only to their own keys. Keys are defined, never assigned, so even
 * `__proto__` would be an own key here.
 */
export function nullPrototypeDict<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const dict = Object.create(null) as Record<string, V>;
  for (const [key, value] of entries) Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
  return dict;
}
