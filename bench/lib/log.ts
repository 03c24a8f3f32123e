// Progress lines on stderr (stdout stays for the result tables), prefixed
// with the bench's name and the seconds since it started.
const started = Date.now();
let prefix = 'bench';

export function setBenchName(name: string): void {
  prefix = name;
}

export function log(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${prefix} ${seconds}s] ${message}\n`);
}
