import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures, in the scheme partner banks verify (documented for them by
 * `verifyWebhookSignature` below, which they may copy):
 *
 *   corridor-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The timestamp is inside the signed text so that a captured request cannot be replayed later
 * with a fresh timestamp; receivers reject timestamps outside a tolerance window, and dedupe
 * the rest by the `corridor-event-id` header (delivery is at least once).
 */

export const SIGNATURE_HEADER = "corridor-signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SIGNATURE_BYTES = 32;

/** The HMAC-SHA256 of "<timestamp>.<body>", as bytes. */
function computeSignature(secret: string, timestamp: number, body: string | Buffer): Buffer {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * The value of the `corridor-signature` header for a body sent at `timestamp` (unix seconds).
 * Sign exactly the bytes that are sent: any re-serialization breaks verification.
 */
export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`webhook timestamp must be whole unix seconds, got ${timestamp}`);
  }
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, body).toString("hex")}`;
}

export interface VerifyOptions {
  /** How far the signed timestamp may be from `now`, either way; default 300 seconds. */
  toleranceSeconds?: number;
  /** The receiver's clock in epoch milliseconds; default `Date.now()`. */
  now?: number;
}

interface ParsedHeader {
  timestamp: number;
  signatures: Buffer[];
}

/**
 * Splits `t=...,v1=...` into its parts. Several v1 values are allowed (a sender may sign with
 * an old and a new secret while rotating); unknown schemes are ignored so that new ones can be
 * added without breaking receivers.
 */
function parseSignatureHeader(header: string): ParsedHeader | undefined {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const separator = part.indexOf("=");
    if (separator < 0) return undefined;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) return undefined;
      timestamp = Number(value);
    } else if (key === "v1" && /^[0-9a-f]+$/i.test(value) && value.length === SIGNATURE_BYTES * 2) {
      signatures.push(Buffer.from(value, "hex"));
    }
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

/**
 * True when `header` carries a valid signature of `body` by `secret`, made within the tolerance
 * window. Pass the raw request body (the exact bytes received, before any JSON parsing).
 * Comparison is constant-time, so timing reveals nothing about the expected signature.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string | Buffer,
  options: VerifyOptions = {},
): boolean {
  if (!header) return false;
  const parsed = parseSignatureHeader(header);
  if (!parsed) return false;
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - parsed.timestamp) > toleranceSeconds) return false;
  const expected = computeSignature(secret, parsed.timestamp, body);
  // Check every candidate rather than stopping at the first match: no early exit to time.
  let valid = false;
  for (const candidate of parsed.signatures) {
    if (timingSafeEqual(candidate, expected)) valid = true;
  }
  return valid;
}
