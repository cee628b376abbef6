import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { network } from "hardhat";
import { startRelayWorld, startWebhookReceiver, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { verifyWebhookSignature } from "../../server/webhooks/signature";
import { uetrToBytes16 } from "../../server/chain/typed-data";

const GBP_100 = { value: "10000", currency: "GBP" };

describe("relay end to end (HTTP API, in-process chain, SQLite)", function () {
  this.timeout(90_000);
  let world: RelayWorld;
  let clockOffsetMs = 0;
  const sanctionsDir = mkdtempSync(path.join(tmpdir(), "corridor-sanctions-"));
  const sanctionsFile = path.join(sanctionsDir, "sanctions.txt");
  writeFileSync(sanctionsFile, "# test list\nname: Blocked Trading Ltd\n");

  before(async () => {
    world = await startRelayWorld({
      env: { SANCTIONS_FILE: sanctionsFile, RISK_SINGLE_PAYMENT_CAP: "JPY=1000000" }, // no cap on GBP
      now: () => Date.now() + clockOffsetMs,
    });
  });
  after(async () => world?.stop());

  const A = () => world.keys.banks[world.bic(0)];
  const B = () => world.keys.banks[world.bic(1)];
  const C = () => world.keys.banks[world.bic(2)];

  function paymentBody(overrides: Record<string, unknown> = {}) {
    return {
      endToEndId: `E2E-${randomUUID().slice(0, 8)}`,
      debtorAgent: { bic: world.bic(0) },
      creditorAgent: { bic: world.bic(1) },
      amount: GBP_100,
      debtor: { name: "Alice Ltd", account: "GB33BUKB20201555555555" },
      creditor: { name: "Bob GmbH", account: "DE89370400440532013000" },
      ...overrides,
    };
  }

  async function pay(overrides: Record<string, unknown> = {}, key = A()) {
    const res = await world.api("POST", "/v1/payments", { key, body: paymentBody(overrides), idempotencyKey: randomUUID() });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { uetr: string; status: string };
  }

  async function statusOf(uetr: string, key = A()): Promise<{ status: string; history: { status: string; txHash: string | null }[] }> {
    return (await world.api("GET", `/v1/payments/${uetr}`, { key })).body;
  }

  const reaches = (uetr: string, status: string, key = A()) =>
    eventually(async () => ((await statusOf(uetr, key)).status === status ? statusOf(uetr, key) : undefined), 30_000, `${uetr} ${status}`);

  it("settles a payment end to end: chain, ledger and both banks' signed webhooks agree", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const secrets: Record<string, string> = {};
      for (const i of [0, 1]) {
        const updated = await world.api("PATCH", `/v1/participants/${world.bic(i)}`, {
          key: world.keys.admin,
          idempotencyKey: randomUUID(),
          body: { webhookUrl: receiver.url, rotateWebhookSecret: true },
        });
        expect(updated.status).to.equal(200);
        secrets[world.bic(i)] = updated.body.webhookSecret;
      }
      const gbp = world.fixture.tokens.GBP;
      const [alice, bob] = world.fixture.banks;
      const before = [await gbp.balanceOf(alice), await gbp.balanceOf(bob)];

      const { uetr, status } = await pay();
      expect(status).to.equal("RECEIVED");
      await reaches(uetr, "LOCKED");
      expect(await world.fixture.escrow.paymentState(uetr16(uetr))).to.equal(1n);

      const confirmed = await world.api("POST", `/v1/payments/${uetr}/confirm`, { key: B(), idempotencyKey: randomUUID() });
      expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(200);
      const settled = await reaches(uetr, "SETTLED");
      expect(settled.history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);
      expect(settled.history.slice(1).every((h) => /^0x[0-9a-f]{64}$/.test(h.txHash ?? ""))).to.equal(true);

      expect(await gbp.balanceOf(alice)).to.equal(before[0] - 10_000n);
      expect(await gbp.balanceOf(bob)).to.equal(before[1] + 10_000n);
      const accounts = (await world.api("GET", "/v1/accounts", { key: A() })).body.accounts as { currency: string; posted: string; onChain: string }[];
      const aliceGbp = accounts.find((a) => a.currency === "GBP")!;
      expect(aliceGbp.posted).to.equal(aliceGbp.onChain);

      const settledHooks = await eventually(async () => {
        const hooks = receiver.received.filter((r) => JSON.parse(r.body).data?.uetr === uetr && JSON.parse(r.body).data?.status === "SETTLED");
        return hooks.length === 2 ? hooks : undefined;
      }, 20_000, "two SETTLED webhooks");
      for (const hook of settledHooks) {
        // The relay's clock follows the test chain's, which runs ahead of the wall clock.
        const signature = hook.headers["corridor-signature"] as string;
        const bic = [world.bic(0), world.bic(1)].find((b) => verifyWebhookSignature(secrets[b], signature, hook.body, { now: Date.now() }));
        expect(bic, "signed with the receiving bank's secret").to.not.equal(undefined);
      }
    } finally {
      await receiver.close();
    }
  });

  it("makes one payment and one chain lock for 20 concurrent requests with one Idempotency-Key", async () => {
    const key = randomUUID();
    const body = paymentBody();
    const answers = await Promise.all(Array.from({ length: 20 }, () => world.api("POST", "/v1/payments", { key: A(), body, idempotencyKey: key })));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(20).fill(201));
    const uetrs = new Set(answers.map((a) => a.body.uetr));
    expect(uetrs.size).to.equal(1);
    const [uetr] = uetrs;
    const { db } = world.relay.database;
    expect((await db.selectFrom("payments").select("uetr").where("end_to_end_id", "=", body.endToEndId).execute()).length).to.equal(1);
    await reaches(uetr, "LOCKED");
    const locks = await world.fixture.escrow.queryFilter(world.fixture.escrow.filters.Locked(uetr16(uetr)));
    expect(locks.length).to.equal(1);
    const replay = await world.api("POST", "/v1/payments", { key: A(), body, idempotencyKey: key });
    expect(replay.status).to.equal(201);
    expect(replay.headers.get("idempotent-replayed")).to.equal("true");
    expect(replay.body).to.deep.equal(answers[0].body); // the first answer (RECEIVED), not today's status
    expect((await db.selectFrom("payments").select("uetr").where("end_to_end_id", "=", body.endToEndId).execute()).length).to.equal(1);
  });

  it("keeps a bank's payments from other banks", async () => {
    const { uetr } = await pay();
    expect((await world.api("GET", `/v1/payments/${uetr}`, { key: C() })).status).to.equal(404);
    for (const action of ["cancel", "confirm"]) {
      const res = await world.api("POST", `/v1/payments/${uetr}/${action}`, { key: C(), idempotencyKey: randomUUID() });
      expect(res.status).to.equal(404);
      expect(res.body.error.code).to.equal("payment_not_found");
    }
    const listed = (await world.api("GET", "/v1/payments?limit=200", { key: C() })).body.payments as { uetr: string }[];
    expect(listed.map((p) => p.uetr)).to.not.include(uetr);
    expect((await world.api("GET", `/v1/payments/${uetr}`, { key: world.keys.treasury })).status).to.equal(200);
  });

  it("cancels a payment before its lock is sent, and nothing reaches the chain", async () => {
    await world.relay.submitter.stop();
    try {
      const { uetr } = await pay();
      const cancelled = await world.api("POST", `/v1/payments/${uetr}/cancel`, { key: A(), idempotencyKey: randomUUID() });
      expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
      expect(cancelled.body.status).to.equal("CANCELLED");
      world.relay.submitter.start(100);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await world.fixture.escrow.paymentState(uetr16(uetr))).to.equal(0n);
      expect((await statusOf(uetr)).status).to.equal("CANCELLED");
    } finally {
      world.relay.submitter.start(100);
    }
  });

  it("refunds a lock that nobody confirmed once it expires", async () => {
    const gbp = world.fixture.tokens.GBP;
    const alice = world.fixture.banks[0];
    const before = await gbp.balanceOf(alice);
    // Well above the chain's lead over the wall clock (each automined block adds at least 1 s).
    const { uetr } = await pay({ expiresInSeconds: 900 });
    await reaches(uetr, "LOCKED");
    expect(await gbp.balanceOf(alice)).to.equal(before - 10_000n);
    const jump = 1_000;
    clockOffsetMs += jump * 1_000;
    await network.provider.send("evm_increaseTime", [jump]);
    const refunded = await reaches(uetr, "REFUNDED");
    expect(refunded.history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "REFUNDED"]);
    expect(await gbp.balanceOf(alice)).to.equal(before);
    expect(await world.fixture.escrow.paymentState(uetr16(uetr))).to.equal(3n);
  });

  describe("bad input: a 4xx with a machine-readable code, and nothing changes", () => {
    const cases: [string, () => Parameters<RelayWorld["api"]>[2], number, string][] = [
      ["malformed JSON", () => ({ body: "{", headers: { "content-type": "application/json" } }), 400, "malformed_json"],
      ["a wrong content type", () => ({ body: "amount=1", headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type"],
      ["a body over the limit", () => ({ body: { ...paymentBody(), remittanceInformation: "x".repeat(100_000) } }), 413, "payload_too_large"],
      ["an unknown field", () => ({ body: { ...paymentBody(), colour: "blue" } }), 400, "unknown_field"],
      ["a missing field", () => ({ body: { ...paymentBody(), endToEndId: undefined } }), 400, "missing_field"],
      ["a negative amount", () => ({ body: paymentBody({ amount: { value: "-5", currency: "GBP" } }) }), 400, "invalid_amount"],
      ["a zero amount", () => ({ body: paymentBody({ amount: { value: "0", currency: "GBP" } }) }), 400, "invalid_amount"],
      ["a fractional amount", () => ({ body: paymentBody({ amount: { value: "100.50", currency: "GBP" } }) }), 400, "invalid_amount"],
      ["an amount as a JSON number", () => ({ body: paymentBody({ amount: { value: 10000, currency: "GBP" } }) }), 400, "invalid_amount"],
      ["an overflowing amount", () => ({ body: paymentBody({ amount: { value: (1n << 128n).toString(), currency: "GBP" } }) }), 400, "invalid_amount"],
      ["an invalid BIC", () => ({ body: paymentBody({ creditorAgent: { bic: "bravdeff" } }) }), 400, "invalid_field"],
      ["an invalid UUID", () => ({ body: paymentBody({ uetr: "not-a-uuid" }) }), 400, "invalid_field"],
      ["an invalid currency", () => ({ body: paymentBody({ amount: { value: "1", currency: "gb" } }) }), 400, "invalid_field"],
      ["an unsupported currency", () => ({ body: paymentBody({ amount: { value: "1", currency: "EUR" } }) }), 422, "currency_not_supported"],
      ["an unknown participant", () => ({ body: paymentBody({ creditorAgent: { bic: "ZZZZGB2LXXX" } }) }), 422, "unknown_participant"],
      ["more than the debtor holds", () => ({ body: paymentBody({ amount: { value: "999999999999999", currency: "GBP" } }) }), 422, "insufficient_funds"],
      ["a JPY payment over the single-payment cap", () => ({ body: paymentBody({ amount: { value: "1000001", currency: "JPY" } }) }), 422, "limit_exceeded"],
      ["a sanctioned party", () => ({ body: paymentBody({ creditor: { name: "BLOCKED trading  ltd" } }) }), 422, "sanctioned_party"],
      ["a bank paying from another bank", () => ({ body: paymentBody({ debtorAgent: { bic: world.bic(2) } }) }), 422, "forbidden_agent"],
      ["no Idempotency-Key", () => ({ body: paymentBody(), idempotencyKey: undefined }), 400, "missing_idempotency_key"],
      ["no API key", () => ({ body: paymentBody(), key: undefined }), 401, "unauthorized"],
      ["a wrong API key", () => ({ body: paymentBody(), key: "crd_wrong" }), 401, "unauthorized"],
    ];

    for (const [what, request, status, code] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        const { db } = world.relay.database;
        const count = async () => [
          (await db.selectFrom("payments").select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n,
          (await db.selectFrom("chain_intents").select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n,
          (await db.selectFrom("idempotency_keys").select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n,
        ];
        const before = await count();
        const res = await world.api("POST", "/v1/payments", { key: A(), idempotencyKey: randomUUID(), ...request() });
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.body.error.code).to.equal(code);
        expect(res.body.error.message).to.be.a("string").and.not.equal("");
        expect(await count()).to.deep.equal(before);
      });
    }

    it("the same Idempotency-Key with another body: 409 idempotency_conflict", async () => {
      const key = randomUUID();
      expect((await world.api("POST", "/v1/payments", { key: A(), body: paymentBody(), idempotencyKey: key })).status).to.equal(201);
      const res = await world.api("POST", "/v1/payments", { key: A(), body: paymentBody(), idempotencyKey: key });
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal("idempotency_conflict");
    });

    it("another bank's payment: 404 payment_not_found; an unknown route: 404 not_found", async () => {
      const { uetr } = await pay();
      const res = await world.api("GET", `/v1/payments/${uetr}`, { key: C() });
      expect([res.status, res.body.error.code]).to.deep.equal([404, "payment_not_found"]);
      const route = await world.api("GET", "/v1/nothing", { key: A() });
      expect([route.status, route.body.error.code]).to.deep.equal([404, "not_found"]);
    });
  });

  it("answers /healthz, /readyz, /metrics, /openapi.json and /docs", async () => {
    expect((await world.api("GET", "/healthz")).status).to.equal(200);
    const ready = await world.api("GET", "/readyz");
    expect(ready.status).to.equal(200);
    expect(ready.body.checks).to.deep.equal({ database: { ok: true }, rpc: { ok: true } });
    const metrics = await world.api("GET", "/metrics");
    expect(metrics.body).to.match(/corridor_payments\{status="SETTLED"\} \d+/);
    expect(metrics.body).to.match(/corridor_indexer_lag_blocks \d+/);
    expect(metrics.body).to.match(/corridor_webhook_deliveries\{status="dead"\} 0/);
    const spec = (await world.api("GET", "/openapi.json")).body;
    expect(spec.openapi).to.match(/^3\./);
    expect(Object.keys(spec.paths)).to.include.members(["/v1/payments", "/v1/windows", "/v1/windows/{id}/approvals", "/v1/payments/{uetr}/proof"]);
    expect(spec.components.schemas.CreatePaymentRequest.properties.amount).to.not.equal(undefined);
    const docs = await world.api("GET", "/docs");
    expect(docs.status).to.equal(200);
    expect(docs.body).to.contain("Corridor payment API");
  });
});

function uetr16(uetr: string): string {
  return uetrToBytes16(uetr);
}
