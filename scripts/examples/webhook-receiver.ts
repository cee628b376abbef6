/**
 * A partner bank's webhook endpoint for Corridor, written as a bank would write it: nothing here
 * imports the relay, so it can be copied as is (Node's `crypto` and `http` only).
 *
 * Corridor signs every delivery:
 *
 *   corridor-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The receiver accepts a delivery only when an HMAC matches (compared in constant time) over the
 * exact bytes received, and its timestamp is within a tolerance window of the receiver's clock
 * (300 s by default), so a captured request cannot be replayed later. Inside the window a replay
 * is caught by the event id: delivery is at least once, so each event is processed once and
 * duplicates are acknowledged with a 2xx (anything else makes the relay retry).
 *
 *   WEBHOOK_SECRET=… WEBHOOK_PORT=4000 npx ts-node scripts/examples/webhook-receiver.ts
 *
 * It prints one JSON line per delivery: `accepted` (the event's type, UETR and status, plus the
 * signature and raw body so that docs/integration.md can replay and tamper with one), `duplicate`,
 * or `rejected` with the reason. GET /healthz answers 200 once it listens.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";

export const DEFAULT_TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 1 << 20;

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "no signature" | "malformed signature" | "signature mismatch" | "timestamp outside tolerance" };

/**
 * Checks a `corridor-signature` header against the raw body (the bytes as received: parsing and
 * re-serializing JSON changes them). Several `v1=` values may be present while Corridor rotates a
 * secret; one matching is enough. Unknown schemes (`v2=`…) are ignored.
 */
export function verifyCorridorSignature(
  secret: string,
  header: string | undefined,
  rawBody: Buffer | string,
  options: { toleranceSeconds?: number; nowMs?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: "no signature" };
  const timestamps: string[] = [];
  const candidates: Buffer[] = [];
  for (const item of header.split(",")) {
    const match = /^\s*(\w+)=(\S*)\s*$/.exec(item);
    if (!match) return { ok: false, reason: "malformed signature" };
    if (match[1] === "t") timestamps.push(match[2]);
    if (match[1] === "v1" && /^[0-9a-f]{64}$/i.test(match[2])) candidates.push(Buffer.from(match[2], "hex"));
  }
  if (timestamps.length !== 1 || !/^\d{1,12}$/.test(timestamps[0]) || candidates.length === 0) {
    return { ok: false, reason: "malformed signature" };
  }
  const timestamp = Number(timestamps[0]);
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest();
  // timingSafeEqual on every candidate: how long this takes says nothing about which bytes matched.
  const matched = candidates.map((candidate) => timingSafeEqual(candidate, expected)).includes(true);
  if (!matched) return { ok: false, reason: "signature mismatch" };
  const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) {
    return { ok: false, reason: "timestamp outside tolerance" };
  }
  return { ok: true, timestamp };
}

/** What Corridor sends: `payment.status_changed` carries the payment as GET /v1/payments/{uetr} shows it. */
export interface CorridorEvent {
  id: string;
  type: string;
  createdAt: string;
  data: { uetr?: string; status?: string; [field: string]: unknown };
}

export type Delivery =
  | { verdict: "accepted"; event: CorridorEvent; signature: string; rawBody: string }
  | { verdict: "duplicate"; eventId: string }
  | { verdict: "rejected"; reason: string };

export interface ReceiverOptions {
  secret: string;
  toleranceSeconds?: number;
  /** Called once per request, after the response's status is decided. */
  onDelivery: (delivery: Delivery) => void;
}

/**
 * The HTTP server: POST /corridor/webhooks, GET /healthz. Event ids seen are kept in memory here;
 * a real endpoint records them in its database, in the transaction that processes the event, so
 * that a restart does not process one twice.
 */
export function createWebhookReceiver(options: ReceiverOptions): Server {
  const seen = new Set<string>();
  return createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") return void res.writeHead(200).end("ok");
    if (req.method !== "POST" || req.url !== "/corridor/webhooks") return void res.writeHead(404).end();
    const rawBody = await readBody(req);
    if (rawBody === undefined) return void res.writeHead(413).end();
    const header = req.headers["corridor-signature"];
    const check = verifyCorridorSignature(options.secret, typeof header === "string" ? header : undefined, rawBody, options);
    if (!check.ok) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: check.reason }));
      return options.onDelivery({ verdict: "rejected", reason: check.reason });
    }
    // Authentic from here on. The id inside the signed body is the one to trust; the
    // corridor-event-id header repeats it for routing, but is not covered by the signature.
    let event: CorridorEvent;
    try {
      event = JSON.parse(rawBody.toString("utf8")) as CorridorEvent;
    } catch {
      res.writeHead(400).end();
      return options.onDelivery({ verdict: "rejected", reason: "signed body is not JSON" });
    }
    if (seen.has(event.id)) {
      res.writeHead(200).end();
      return options.onDelivery({ verdict: "duplicate", eventId: event.id });
    }
    seen.add(event.id);
    res.writeHead(204).end();
    options.onDelivery({ verdict: "accepted", event, signature: header as string, rawBody: rawBody.toString("utf8") });
  });
}

/** The body's exact bytes, or undefined when it is larger than anything Corridor sends. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** One JSON line per delivery, flat, for `jq`. */
export function logLine(delivery: Delivery): string {
  if (delivery.verdict !== "accepted") return JSON.stringify(delivery);
  const { event, signature, rawBody } = delivery;
  return JSON.stringify({ verdict: "accepted", eventId: event.id, type: event.type, uetr: event.data.uetr, status: event.data.status, signature, rawBody });
}

function main(): void {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) throw new Error("set WEBHOOK_SECRET to the secret Corridor gave for your webhook URL");
  const port = Number(process.env.WEBHOOK_PORT ?? 4000);
  const server = createWebhookReceiver({ secret, onDelivery: (delivery) => console.log(logLine(delivery)) });
  server.listen(port, "127.0.0.1", () => console.error(`listening on http://127.0.0.1:${port}/corridor/webhooks`));
  // The relay keeps connections alive between deliveries: drop them, or close() waits for them.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => server.close().closeAllConnections());
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
