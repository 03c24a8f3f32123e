// Constant-time comparison of presented secrets (admin token, endpoint keys).
// Both sides are hashed first so inputs of any length compare in equal time.
import { hash, timingSafeEqual } from 'node:crypto';

// One-shot: createHash() makes a native Hash object per call whose weak
// handle every young-generation GC must then process (on the data plane's
// per-request key check that lengthened each scavenge pause by ~40%).
export function digestSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

export function matchesAny(presented: string, digests: readonly Buffer[]): boolean {
  const candidate = digestSecret(presented);
  let ok = false;
  // Compare against every digest (no early exit) so timing does not tell which key matched.
  for (const digest of digests) ok = timingSafeEqual(candidate, digest) || ok;
  return ok;
}

/** Extracts the token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length < 8) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token || undefined;
}
