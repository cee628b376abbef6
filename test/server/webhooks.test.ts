import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { DatabaseHandle } from "../../server/db/database";
import { enqueueWebhook } from "../../server/webhooks/outbox";
import { createWebhookService, exponentialBackoff, type WebhookServiceDeps } from "../../server/webhooks/service";
import { signWebhook, verifyWebhookSignature } from "../../server/webhooks/signature";
import { forEachDialect, openTestDatabase } from "./databases";
import { eventually } from "../support/eventually";

const SECRET = "whsec_test_bank_gb";
const BANK = "BANKGB2LXXX";
const T0 = Date.UTC(2025, 0, 1);

interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
  verified: boolean;
}

/** What the receiver does with its n-th request (1-based): answer with a status, or never answer. */
type Reply = number | "hang";

interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  reply: (n: number) => Reply;
  delayMs: number;
  close(): Promise<void>;
}

/** A real HTTP endpoint standing in for a bank; it verifies signatures as a bank would. */
async function startReceiver(secret: string, clock: () => number): Promise<Receiver> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const header = req.headers["corridor-signature"] as string | undefined;
      const verified = verifyWebhookSignature(secret, header, raw, { toleranceSeconds: 300, now: clock() });
      receiver.requests.push({ headers: req.headers, body: raw.toString("utf8"), verified });
      const reply = receiver.reply(receiver.requests.length);
      if (reply === "hang") return;
      setTimeout(() => res.writeHead(reply, { "content-type": "text/plain" }).end(reply < 300 ? "ok" : "receiver broke"), receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/corridor/webhooks`,
    requests: [],
    reply: () => 200,
    delayMs: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const waitUntil = (condition: () => boolean) => eventually(() => condition() || undefined, 30_000, "condition", 5);

forEachDialect("server/webhooks/service", (dialect) => {
  let handle: DatabaseHandle;
  let receiver: Receiver;
  let t = T0;
  const now = () => t;

  beforeEach(async () => {
    t = T0;
    handle = await openTestDatabase(dialect);
    receiver = await startReceiver(SECRET, now);
    await addBank(BANK, receiver.url, SECRET);
  });

  afterEach(async () => {
    await receiver.close();
    await handle.close();
  });

  async function addBank(bic: string, url: string | null, secret: string | null): Promise<void> {
    await handle.db
      .insertInto("participants")
      .values({ bic, name: bic, country: bic.slice(4, 6), address: `0x${bic.padEnd(40, "0")}`, status: "active", webhook_url: url, webhook_secret: secret, created_at: T0 })
      .execute();
  }

  function service(overrides: Partial<WebhookServiceDeps> = {}) {
    return createWebhookService({ db: handle.db, dialect, now, maxAttempts: 3, timeoutMs: 1_000, backoff: () => 1_000, workerId: "w1", ...overrides });
  }

  const enqueue = (uetr = "0f0e0d0c-0000-4000-8000-000000000001", bic = BANK) =>
    enqueueWebhook(handle.db, { bic, eventType: "payment.settled", payload: { uetr, status: "SETTLED" } }, t);

  const row = (id: string) => handle.db.selectFrom("webhook_deliveries").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  it("POSTs the event with its id, type and a valid signature over the exact body, then marks it delivered", async () => {
    const id = await enqueue();
    expect(await service().deliverDue(10)).to.equal(1);

    expect(receiver.requests).to.have.length(1);
    const [request] = receiver.requests;
    expect(request.verified).to.equal(true);
    expect(request.headers["content-type"]).to.equal("application/json");
    expect(request.headers["corridor-event-id"]).to.equal(id);
    expect(request.headers["corridor-event-type"]).to.equal("payment.settled");
    expect(request.headers["corridor-signature"]).to.match(new RegExp(`^t=${Math.floor(T0 / 1000)},v1=[0-9a-f]{64}$`));
    const stored = await row(id);
    expect(request.body).to.equal(stored.payload);
    expect(JSON.parse(request.body)).to.deep.equal({ id, type: "payment.settled", createdAt: new Date(T0).toISOString(), data: { uetr: "0f0e0d0c-0000-4000-8000-000000000001", status: "SETTLED" } });
    expect(stored).to.include({ status: "delivered", attempts: 0, delivered_at: T0, lease_until: null, last_error: null });
    expect(await service().deliverDue(10)).to.equal(0);
    expect(receiver.requests).to.have.length(1);
  });

  it("retries a 500 after the backoff and counts the failed attempt", async () => {
    receiver.reply = (n) => (n === 1 ? 500 : 200);
    const id = await enqueue();
    const worker = service();

    expect(await worker.deliverDue(10)).to.equal(0);
    expect(await row(id)).to.include({ status: "pending", attempts: 1, next_attempt_at: T0 + 1_000, lease_until: null, last_error: "HTTP 500: receiver broke" });
    expect(await worker.deliverDue(10), "not due before its backoff").to.equal(0);
    expect(receiver.requests).to.have.length(1);

    t += 1_000;
    expect(await worker.deliverDue(10)).to.equal(1);
    expect(receiver.requests).to.have.length(2);
    expect(receiver.requests.every((r) => r.verified && r.headers["corridor-event-id"] === id)).to.equal(true);
    expect(await row(id)).to.include({ status: "delivered", attempts: 1, delivered_at: T0 + 1_000 });
  });

  it("dead-letters after maxAttempts failures, and an admin's redelivery delivers it", async () => {
    receiver.reply = () => 503;
    const id = await enqueue();
    const worker = service();
    for (let i = 0; i < 3; i++) {
      expect(await worker.deliverDue(10)).to.equal(0);
      t += 1_000;
    }
    expect(await row(id)).to.include({ status: "dead", attempts: 3, lease_until: null });
    t += 1_000_000;
    expect(await worker.deliverDue(10)).to.equal(0);
    expect(receiver.requests, "a dead event is not retried").to.have.length(3);

    receiver.reply = () => 200;
    const redelivered = await worker.redeliver(id);
    expect(redelivered.ok && redelivered.value).to.include({ id, status: "pending", attempts: 0, nextAttemptAt: t, lastError: null });
    expect(await worker.deliverDue(10)).to.equal(1);
    expect(await row(id)).to.include({ status: "delivered", attempts: 0 });
    expect(receiver.requests).to.have.length(4);
  });

  it("redelivers a delivered event once, refuses a pending one, and reports unknown ids", async () => {
    const id = await enqueue();
    const worker = service();
    await worker.deliverDue(10);
    expect((await worker.redeliver(id)).ok).to.equal(true);
    const again = await worker.redeliver(id);
    expect(!again.ok && again.code).to.equal("webhook_pending");
    expect(await worker.deliverDue(10)).to.equal(1);
    expect(receiver.requests.map((r) => r.headers["corridor-event-id"]), "same event id: receivers dedupe").to.deep.equal([id, id]);
    const missing = await worker.redeliver("no-such-delivery");
    expect(!missing.ok && missing.code).to.equal("webhook_not_found");
  });

  it("abandons a request that gets no answer within timeoutMs and retries it later", async () => {
    receiver.reply = (n) => (n === 1 ? "hang" : 200);
    const id = await enqueue();
    const worker = service({ timeoutMs: 200 });
    const started = Date.now();
    expect(await worker.deliverDue(10)).to.equal(0);
    expect(Date.now() - started).to.be.below(2_000);
    expect(await row(id)).to.include({ status: "pending", attempts: 1, last_error: "timeout after 200 ms", lease_until: null });
    t += 1_000;
    expect(await worker.deliverDue(10)).to.equal(1);
  });

  it("two workers polling the same database concurrently deliver each event exactly once", async () => {
    receiver.delayMs = 3; // keeps both workers' batches in flight at the same time
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => enqueue(`uetr-${i}`)));
    const drain = async (workerId: string) => {
      const worker = service({ workerId });
      let delivered = 0;
      for (let n = await worker.deliverDue(5); n > 0; n = await worker.deliverDue(5)) delivered += n;
      return delivered;
    };
    const [first, second] = await Promise.all([drain("w1"), drain("w2")]);

    expect(first + second).to.equal(40);
    const received = receiver.requests.map((r) => r.headers["corridor-event-id"]);
    expect(received).to.have.length(40);
    expect([...new Set(received)].sort()).to.deep.equal([...ids].sort());
    const statuses = await handle.db.selectFrom("webhook_deliveries").select("status").distinct().execute();
    expect(statuses).to.deep.equal([{ status: "delivered" }]);
  });

  it("lets another worker deliver once a crashed worker's lease expires; the crashed worker cannot undo it", async () => {
    const id = await enqueue();
    const crash: { kill?: (error: Error) => void } = {};
    // This worker's request never completes: as if its process died mid-request.
    const crashed = service({ workerId: "crashed", leaseMs: 5_000, fetch: () => new Promise<Response>((_, reject) => (crash.kill = reject)) });
    const inFlight = crashed.deliverDue(10);
    await waitUntil(() => crash.kill !== undefined);

    const rescuer = service({ workerId: "rescuer", leaseMs: 5_000 });
    expect(await rescuer.deliverDue(10), "lease still held").to.equal(0);
    t += 5_000;
    expect(await rescuer.deliverDue(10)).to.equal(1);
    expect(receiver.requests).to.have.length(1);

    crash.kill!(new Error("socket hang up"));
    expect(await inFlight).to.equal(0);
    expect(await row(id)).to.include({ status: "delivered", attempts: 0, last_error: null });
  });

  it("ignores the late outcome of a worker whose lease was taken over (the lease is a fencing token)", async () => {
    const id = await enqueue();
    const kills: ((error: Error) => void)[] = [];
    const stuckFetch = () => new Promise<Response>((_, reject) => kills.push(reject));
    const slow = service({ workerId: "slow", leaseMs: 5_000, fetch: stuckFetch });
    const slowRun = slow.deliverDue(10);
    await waitUntil(() => kills.length === 1);
    t += 5_000;
    const successor = service({ workerId: "successor", leaseMs: 5_000, fetch: stuckFetch });
    const successorRun = successor.deliverDue(10);
    await waitUntil(() => kills.length === 2);

    kills[0](new Error("late failure"));
    expect(await slowRun).to.equal(0);
    expect(await row(id), "the successor's claim stands").to.include({ status: "pending", attempts: 0, lease_until: T0 + 10_000 });
    expect(await service({ workerId: "third" }).deliverDue(10), "so no third worker sends it meanwhile").to.equal(0);

    kills[1](new Error("connection reset"));
    expect(await successorRun).to.equal(0);
    expect(await row(id)).to.include({ status: "pending", attempts: 1, lease_until: null, last_error: "connection reset" });
  });

  it("keeps an event of a bank without a webhook URL pending, and delivers it once the URL is set", async () => {
    await addBank("BANKDEFFXXX", null, null);
    const id = await enqueue("uetr-1", "BANKDEFFXXX");
    const worker = service({ unconfiguredRetryMs: 60_000 });
    expect(await worker.deliverDue(10)).to.equal(0);
    expect(await row(id)).to.include({ status: "pending", attempts: 0, last_error: "no webhook URL", next_attempt_at: T0 + 60_000, lease_until: null });

    await handle.db.updateTable("participants").set({ webhook_url: receiver.url, webhook_secret: SECRET }).where("bic", "=", "BANKDEFFXXX").execute();
    t += 60_000;
    expect(await worker.deliverDue(10)).to.equal(1);
    expect(receiver.requests[0].verified).to.equal(true);
  });

  it("lists deliveries for the admin API by bank and status, newest first", async () => {
    await addBank("BANKDEFFXXX", null, null);
    const older = await enqueue("uetr-1");
    t += 1;
    const newer = await enqueue("uetr-2");
    const other = await enqueue("uetr-3", "BANKDEFFXXX");
    const worker = service();
    await worker.deliverDue(10);

    expect((await worker.list({ bic: BANK, limit: 10 })).map((d) => d.id)).to.deep.equal([newer, older]);
    expect((await worker.list({ bic: BANK, limit: 1 })).map((d) => d.id)).to.deep.equal([newer]);
    const pending = await worker.list({ status: "pending", limit: 10 });
    expect(pending.map((d) => d.id)).to.deep.equal([other]);
    expect(pending[0]).to.include({ bic: "BANKDEFFXXX", eventType: "payment.settled", attempts: 0, lastError: "no webhook URL" });
    expect(pending[0].payload).to.include({ id: other, type: "payment.settled" });
  });

  it("polls with start() and stops cleanly with stop()", async () => {
    const worker = service();
    worker.start(10);
    worker.start(10); // idempotent: still one loop
    await enqueue("uetr-1");
    await waitUntil(() => receiver.requests.length === 1);
    await worker.stop();
    await worker.stop();
    await enqueue("uetr-2");
    await sleep(50);
    expect(receiver.requests).to.have.length(1);
  });
});

describe("server/webhooks/signature", () => {
  const body = JSON.stringify({ id: "evt-1", type: "payment.settled", data: { amount: "245000" } });
  const at = Math.floor(T0 / 1000);
  const header = signWebhook(SECRET, at, body);

  it("signs t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body> and verifies it", () => {
    expect(header).to.match(new RegExp(`^t=${at},v1=[0-9a-f]{64}$`));
    expect(verifyWebhookSignature(SECRET, header, body, { now: T0 })).to.equal(true);
    expect(verifyWebhookSignature(SECRET, header, Buffer.from(body), { now: T0 }), "raw bytes").to.equal(true);
  });

  it("rejects a tampered body, a wrong secret and a rewritten timestamp", () => {
    expect(verifyWebhookSignature(SECRET, header, body.replace("245000", "945000"), { now: T0 })).to.equal(false);
    expect(verifyWebhookSignature("whsec_other", header, body, { now: T0 })).to.equal(false);
    const replayed = header.replace(`t=${at}`, `t=${at + 60}`);
    expect(verifyWebhookSignature(SECRET, replayed, body, { now: T0 + 60_000 })).to.equal(false);
  });

  it("rejects timestamps outside the tolerance, either way", () => {
    expect(verifyWebhookSignature(SECRET, header, body, { now: T0 + 300_000, toleranceSeconds: 300 })).to.equal(true);
    expect(verifyWebhookSignature(SECRET, header, body, { now: T0 + 301_000, toleranceSeconds: 300 })).to.equal(false);
    expect(verifyWebhookSignature(SECRET, header, body, { now: T0 - 301_000, toleranceSeconds: 300 })).to.equal(false);
    expect(verifyWebhookSignature(SECRET, header, body, { now: T0 + 30_000, toleranceSeconds: 10 })).to.equal(false);
  });

  it("rejects missing and malformed headers", () => {
    const v1 = header.split("v1=")[1];
    for (const bad of [undefined, "", `v1=${v1}`, `t=${at}`, `t=abc,v1=${v1}`, `t=${at},v1=${v1.slice(2)}`, `t=${at},v1=zz${v1.slice(2)}`, `t=${at},t=${at},v1=${v1}`, "garbage"]) {
      expect(verifyWebhookSignature(SECRET, bad, body, { now: T0 }), String(bad)).to.equal(false);
    }
  });

  it("accepts any of several v1 signatures, so a secret can be rotated", () => {
    const old = signWebhook("whsec_old", at, body).split(",")[1];
    expect(verifyWebhookSignature(SECRET, `${header},${old}`, body, { now: T0 })).to.equal(true);
    expect(verifyWebhookSignature(SECRET, `t=${at},${old}`, body, { now: T0 })).to.equal(false);
  });

  it("refuses a timestamp that is not whole unix seconds", () => {
    expect(() => signWebhook(SECRET, T0 / 1000 + 0.5, body)).to.throw(RangeError);
  });
});

describe("server/webhooks/service exponentialBackoff", () => {
  it("doubles per failure from baseMs up to maxMs, with jitter in the upper half", () => {
    const low = exponentialBackoff({ baseMs: 1_000, maxMs: 10_000, random: () => 0 });
    const high = exponentialBackoff({ baseMs: 1_000, maxMs: 10_000, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6].map(high)).to.deep.equal([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect([1, 2, 3, 4, 5, 6].map(low)).to.deep.equal([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    const jittered = exponentialBackoff({ baseMs: 1_000, maxMs: 10_000 });
    for (let i = 0; i < 100; i++) expect(jittered(3)).to.be.within(2_000, 4_000);
  });
});
