// How a webhook delivery proves where it comes from: an HMAC-SHA256 over the
// timestamp and the raw body, so a receiver can check both the sender and
// that an old delivery is not being replayed. `verifySignature` is what a
// receiver does (the README shows the same in a few lines).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-saferoll-signature';
export const TIMESTAMP_HEADER = 'x-saferoll-timestamp';
export const EVENT_HEADER = 'x-saferoll-event';
export const DELIVERY_HEADER = 'x-saferoll-delivery';

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` */
export function signatureFor(secret: string, timestampSeconds: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

export interface SignedDelivery {
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
}

/** True when the signature is the secret's over this timestamp and body, and the timestamp is recent. */
export function verifySignature(secret: string, delivery: SignedDelivery, nowSeconds = Date.now() / 1000, toleranceSeconds = 300): boolean {
  const timestamp = Number(delivery.timestamp);
  if (!delivery.timestamp || !Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureFor(secret, timestamp, delivery.body));
  const given = Buffer.from(delivery.signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
