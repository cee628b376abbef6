import { randomUUID } from "node:crypto";
import { expect } from "chai";
import hre from "hardhat";
import { parsePacs002 } from "../../server/iso20022/pacs002";
import { buildPacs004, parsePacs004 } from "../../server/iso20022/pacs004";
import { provisionDemoRelay, type DemoKeys } from "../../scripts/lib/demo-relay";
import { setUpDemoBanks, type DemoBank } from "../../scripts/lib/demo";
import { eventually } from "../support/eventually";
import { C105, pacs008, type CreditTransfer } from "../support/iso-messages";
import { allowOperator, startRelayWorld, type RelayWorld } from "./relay-harness";

const SAMPLE_BANKS: DemoBank[] = [
  { name: "CBRL (c105 debtor agent)", bic: C105.debtorAgent, country: "GB" },
  { name: "DEUT (c105 creditor agent)", bic: C105.creditorAgent, country: "DE" },
];

describe("ISO 20022 through the API: pacs.008 in, pacs.002 and pacs.004 out, statements, reconciliation", function () {
  this.timeout(120_000);
  let world: RelayWorld;
  let sampleKeys: DemoKeys;

  before(async () => {
    world = await startRelayWorld({ env: { AUTO_RELEASE: "true", RISK_SINGLE_PAYMENT_CAP: "GBP=100000000" } });
    // The CBPR+ sample's two banks, registered on chain and with the relay under their real BICs.
    const signers = (await hre.ethers.getSigners()).slice(10, 12);
    const banks = signers.map((signer, i) => ({ signer, bank: SAMPLE_BANKS[i] }));
    await setUpDemoBanks(world.fixture, banks);
    await allowOperator({ ...world.fixture, banks: signers });
    sampleKeys = await provisionDemoRelay(world.relay, world.fixture, banks);
  });
  after(async () => world?.stop());

  const xml = (key: string, path: string, body: string, headers: Record<string, string> = {}) =>
    world.api("POST", path, { key, body, headers: { "content-type": "application/xml", ...headers } });
  const alpha = () => world.keys.banks[world.bic(0)];
  const transfer = (overrides: Partial<CreditTransfer> = {}): CreditTransfer => ({
    amount: "12.34",
    currency: "GBP",
    debtorAgent: world.bic(0),
    creditorAgent: world.bic(1),
    ...overrides,
  });
  const paymentCount = async () => (await world.relay.database.db.selectFrom("payments").select(({ fn }) => fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n;
  const settled = (uetr: string, key: string) =>
    eventually(async () => {
      const res = await world.api("GET", `/v1/payments/${uetr}`, { key });
      return res.body.status === "SETTLED" ? res.body : undefined;
    }, 60_000, `${uetr} SETTLED`);

  it("settles the CBPR+ c105 pacs.008 and reconciles it against the c105 camt.053 with no break, the CHRG entry linked", async () => {
    const debtor = sampleKeys.banks[C105.debtorAgent];
    const accepted = await xml(debtor, "/v1/iso20022/pacs.008", C105.pacs008());
    expect(accepted.status, accepted.body).to.equal(200);
    expect(accepted.headers.get("content-type")).to.match(/application\/xml/);
    const report = parsePacs002(accepted.body);
    expect(report.transactions).to.have.length(1);
    expect(report.transactions[0]).to.include({ originalUetr: C105.uetr, status: "ACTC" });

    const payment = await settled(C105.uetr, debtor);
    expect(payment.amount).to.deep.equal({ value: "245000", currency: "GBP" });
    expect(payment.debtorAgent.bic).to.equal(C105.debtorAgent);
    const status = await world.api("GET", `/v1/payments/${C105.uetr}/pacs.002`, { key: debtor });
    expect(parsePacs002(status.body).transactions[0]).to.include({ originalUetr: C105.uetr, status: "ACSC" });

    const treasury = world.keys.treasury;
    const imported = await xml(treasury, "/v1/statements", C105.camt053());
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);
    const again = await xml(treasury, "/v1/statements", C105.camt053(), { "idempotency-key": randomUUID() });
    expect(again.status).to.equal(200);
    expect(again.body.statements.every((s: { created: boolean }) => !s.created)).to.equal(true);
    const entries = await world.relay.database.db.selectFrom("statement_entries").select("id").execute();
    expect(entries).to.have.length(2);
    const listed = await world.api("GET", "/v1/statements", { key: treasury });
    expect(listed.body.statements.map((s: { id: string }) => s.id)).to.deep.equal([imported.body.statements[0].id]);
    const shown = await world.api("GET", `/v1/statements/${imported.body.statements[0].id}`, { key: treasury });
    expect(shown.body.entries.map((e: { isCharge: boolean; amount: { value: string } }) => [e.amount.value, e.isCharge])).to.deep.equal([["245000", false], ["1000", true]]);

    const run = await world.api("POST", "/v1/reconciliation/runs", {
      key: treasury,
      body: { from: C105.valueDate, to: C105.valueDate, currencies: ["GBP"] },
      idempotencyKey: randomUUID(),
    });
    expect(run.status, JSON.stringify(run.body)).to.equal(201);
    expect(run.body.status).to.equal("completed");
    expect(totalBreaks(run.body.counts)).to.equal(0);
    expect(run.body.counts.matchedItems).to.equal(1);
    expect(run.body.counts.chargesLinked).to.equal(1);
    const fetched = await world.api("GET", `/v1/reconciliation/runs/${run.body.id}`, { key: treasury });
    expect(fetched.body.counts).to.deep.equal(run.body.counts);
  });

  it("returns the settled c105 payment on the creditor bank's request, with a pacs.004", async () => {
    const creditor = sampleKeys.banks[C105.creditorAgent];
    const debtor = sampleKeys.banks[C105.debtorAgent];
    const byDebtor = await world.api("POST", `/v1/payments/${C105.uetr}/return`, { key: debtor, body: { reason: "AC04" }, idempotencyKey: randomUUID() });
    expect(byDebtor.status).to.equal(422);
    expect(byDebtor.body.error.code).to.equal("forbidden_agent");

    const returned = await world.api("POST", `/v1/payments/${C105.uetr}/return`, { key: creditor, body: { reason: "AC04" }, idempotencyKey: randomUUID() });
    expect(returned.status, JSON.stringify(returned.body)).to.equal(201);
    const message = parsePacs004(returned.body.pacs004);
    expect(message.transactions[0]).to.include({ originalUetr: C105.uetr, reason: "AC04" });
    expect(message.transactions[0].returnedAmount).to.deep.equal({ value: 245000n, currency: "GBP" });
    const back = await settled(returned.body.payment.uetr, creditor);
    expect(back.debtorAgent.bic).to.equal(C105.creditorAgent);
    expect(back.creditorAgent.bic).to.equal(C105.debtorAgent);

    const stored = await world.api("GET", `/v1/payments/${C105.uetr}/pacs.004`, { key: debtor });
    expect(parsePacs004(stored.body).transactions[0].returnId).to.equal(returned.body.returnId);
    const twice = await world.api("POST", `/v1/payments/${C105.uetr}/return`, { key: creditor, body: { reason: "AC04" }, idempotencyKey: randomUUID() });
    expect(twice.status).to.equal(409);
    expect(twice.body.error.code).to.equal("payment_already_returned");
  });

  it("accepts a received pacs.004 for a settled payment and answers with a pacs.002", async () => {
    const uetr = randomUUID();
    const accepted = await xml(alpha(), "/v1/iso20022/pacs.008", pacs008([transfer({ uetr })]));
    expect(accepted.status).to.equal(200);
    const payment = await settled(uetr, alpha());
    const pacs004 = buildPacs004({
      messageId: `RTN-${uetr.slice(0, 8)}`,
      creationDateTime: new Date().toISOString(),
      transactions: [{
        returnId: `RTR-${uetr.slice(0, 8)}`, originalMessageId: null, originalMessageNameId: null, originalInstructionId: null,
        originalEndToEndId: payment.endToEndId, originalTransactionId: null, originalUetr: uetr,
        returnedAmount: { value: 1234n, currency: "GBP" }, settlementDate: null, reason: "AC01", additionalInformation: null,
        instructingAgent: world.bic(1), instructedAgent: world.bic(0),
      }],
    });
    const answered = await xml(world.keys.banks[world.bic(1)], "/v1/iso20022/pacs.004", pacs004);
    expect(answered.status, answered.body).to.equal(200);
    expect(parsePacs002(answered.body).transactions[0]).to.include({ originalUetr: uetr, status: "ACTC" });
    const again = await xml(world.keys.banks[world.bic(1)], "/v1/iso20022/pacs.004", pacs004);
    expect(again.headers.get("idempotent-replayed")).to.equal("true");
    expect(again.body).to.equal(answered.body);
  });

  it("rejects only the bad transaction of a multi-transaction pacs.008, each with its ISO reason", async () => {
    const before = await paymentCount();
    const good = [randomUUID(), randomUUID()];
    const message = pacs008([
      transfer({ uetr: good[0] }),
      transfer({ amount: "1.234" }), // GBP has 2 decimals
      transfer({ uetr: good[1] }),
    ]);
    const res = await xml(alpha(), "/v1/iso20022/pacs.008", message);
    expect(res.status, res.body).to.equal(200);
    const statuses = parsePacs002(res.body).transactions.map((t) => [t.status, t.reason]);
    expect(statuses).to.deep.equal([["ACTC", null], ["RJCT", "AM12"], ["ACTC", null]]);
    expect(await paymentCount()).to.equal(before + 2);
    const inFlightOrSettled = parsePacs002((await world.api("GET", `/v1/payments/${good[0]}/pacs.002`, { key: alpha() })).body);
    expect(inFlightOrSettled.transactions[0].status).to.be.oneOf(["ACSP", "ACSC"]);

    const replay = await xml(alpha(), "/v1/iso20022/pacs.008", message);
    expect(replay.body).to.equal(res.body);
    expect(await paymentCount()).to.equal(before + 2);
  });

  describe("per-transaction refusals: 422 with a pacs.002 naming the ISO reason, and nothing stored", () => {
    const cases: [string, () => Partial<CreditTransfer>, string][] = [
      ["an unknown currency", () => ({ currency: "XXQ" }), "AM03"],
      ["more decimals than the currency allows", () => ({ currency: "JPY", amount: "10.5" }), "AM12"],
      ["an invalid BIC", () => ({ creditorAgent: "NOT A BIC" }), "RC01"],
      ["a BIC that is not a participant", () => ({ creditorAgent: "ZZZZGB2LXXX" }), "RC01"],
      ["an invalid IBAN", () => ({ debtorIban: "GB00BUKB20201555555555" }), "AC01"],
      ["an amount over the single-payment cap", () => ({ amount: "1000000.01" }), "AM02"],
      ["a UETR already used", () => ({ uetr: C105.uetr }), "DUPL"],
    ];
    for (const [what, overrides, reason] of cases) {
      it(`${what}: RJCT ${reason}`, async () => {
        const before = await paymentCount();
        const res = await xml(alpha(), "/v1/iso20022/pacs.008", pacs008([transfer(overrides())]));
        expect(res.status, res.body).to.equal(422);
        const [entry] = parsePacs002(res.body).transactions;
        expect(entry).to.include({ status: "RJCT", reason });
        expect(await paymentCount()).to.equal(before);
      });
    }
  });

  describe("messages that cannot be read: a 4xx with a machine-readable code, and nothing stored", () => {
    const valid = () => pacs008([transfer()]);
    const cases: [string, () => string, number, string][] = [
      ["malformed XML", () => valid().slice(0, -40), 400, "malformed_xml"],
      ["a DOCTYPE", () => valid().replace("<Document", '<!DOCTYPE Document [<!ELEMENT Document ANY>]>\n<Document'), 400, "doctype_forbidden"],
      [
        "an entity expansion attempt",
        () => valid().replace("<Document", '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n<Document').replace("Debtor &amp; Co", "&b;"),
        400,
        "doctype_forbidden",
      ],
      ["a wrong namespace", () => valid().replace("pacs.008.001.08", "pacs.008.001.99x"), 400, "wrong_namespace"],
      ["another message type", () => C105.camt053(), 400, "unsupported_message"],
      ["no group header message id", () => valid().replace(/<MsgId>[^<]*<\/MsgId>/, ""), 400, "missing_element"],
    ];
    for (const [what, body, status, code] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        const before = await paymentCount();
        const res = await xml(alpha(), "/v1/iso20022/pacs.008", body());
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.body.error.code).to.equal(code);
        expect(await paymentCount()).to.equal(before);
      });
    }

    it("a body over the limit: 413 payload_too_large", async () => {
      const huge = valid().replace("Debtor &amp; Co", "x".repeat(1_100_000));
      const res = await xml(alpha(), "/v1/iso20022/pacs.008", huge);
      expect(res.status).to.equal(413);
      expect(res.body.error.code).to.equal("payload_too_large");
    });

    it("JSON sent to the XML route: 415 unsupported_media_type", async () => {
      const res = await world.api("POST", "/v1/iso20022/pacs.008", { key: alpha(), body: { hello: "world" } });
      expect(res.status).to.equal(415);
      expect(res.body.error.code).to.equal("unsupported_media_type");
    });

    it("a statement from a bank's key: 403 (only treasury imports statements)", async () => {
      const res = await xml(alpha(), "/v1/statements", C105.camt053());
      expect(res.status).to.equal(403);
    });
  });
});

function totalBreaks(counts: { breaks: Record<string, number> }): number {
  return Object.values(counts.breaks).reduce((sum, n) => sum + n, 0);
}
