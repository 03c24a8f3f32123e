// A benchmark's integer option (`--rounds 3`), refused with its name and value when it is not one.
export function intOption(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${text}"`);
  return n;
}
