import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { eventually } from "../support/eventually";
import { camt054 } from "../support/iso-messages";
import { account, startRelayWorld, type RelayWorld } from "./relay-harness";

const BHD_RESERVE = "BH67BMAG00001299123456";

describe("funds-in and funds-out: reserve credits mint tokens, redemptions burn them, both through the ledger", function () {
  this.timeout(120_000);
  let world: RelayWorld;

  before(async () => {
    world = await startRelayWorld({ env: { RESERVE_ACCOUNTS: `BHD=${BHD_RESERVE}` } });
  });
  after(async () => world?.stop());

  const treasury = () => world.keys.treasury;
  const alpha = () => world.keys.banks[world.bic(0)];
  const onChain = () => world.fixture.tokens.BHD.balanceOf(world.fixture.banks[0].address);
  const ledgerPosted = async () => BigInt((await account(world.api, alpha(), "BHD")).posted);
  const movement = (id: string) => world.api("GET", `/v1/funds/${id}`, { key: treasury() });
  const reaches = (id: string, status: string) =>
    eventually(async () => {
      const res = await movement(id);
      return res.body.status === status ? res.body : undefined;
    }, 60_000, `movement ${id} ${status}`);
  const notify = (entries: Parameters<typeof camt054>[1]) =>
    world.api("POST", "/v1/statements", { key: treasury(), body: camt054(BHD_RESERVE, entries), headers: { "content-type": "application/xml" } });

  it("mints against a booked reserve credit once treasury approves, and books reserve → bank in the ledger", async () => {
    const uetr = randomUUID();
    const [chainBefore, ledgerBefore] = [await onChain(), await ledgerPosted()];
    const imported = await notify([{ amount: "1000.125", currency: "BHD", creditDebit: "CRDT", uetr, counterpartyBic: world.bic(0) }]);
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);

    const pending = await world.api("GET", "/v1/funds?status=awaiting_approval", { key: treasury() });
    const found = pending.body.movements.find((m: { id: string }) => m.id === uetr);
    expect(found).to.deep.include({ direction: "in", bic: world.bic(0), amount: { value: "1000125", currency: "BHD" } });
    expect(await onChain()).to.equal(chainBefore); // nothing minted before approval

    const byBank = await world.api("POST", `/v1/funds/${uetr}/approve`, { key: alpha(), idempotencyKey: randomUUID() });
    expect(byBank.status).to.equal(403);
    const approved = await world.api("POST", `/v1/funds/${uetr}/approve`, { key: treasury(), idempotencyKey: randomUUID() });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    const completed = await reaches(uetr, "completed");
    expect(completed.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(await onChain()).to.equal(chainBefore + 1_000_125n);
    expect(await ledgerPosted()).to.equal(ledgerBefore + 1_000_125n);

    const again = await world.api("POST", `/v1/funds/${uetr}/approve`, { key: treasury(), idempotencyKey: randomUUID() });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal("movement_not_awaiting_approval");
  });

  it("ignores credits that are not reserve evidence: a debit, or a credit from an unregistered bank", async () => {
    const before = (await world.api("GET", "/v1/funds", { key: treasury() })).body.movements.length;
    const imported = await notify([
      { amount: "5", currency: "BHD", creditDebit: "DBIT", counterpartyBic: world.bic(0) },
      { amount: "5", currency: "BHD", creditDebit: "CRDT", counterpartyBic: "ZZZZBHBMXXX" },
    ]);
    expect(imported.status).to.equal(201);
    expect((await world.api("GET", "/v1/funds", { key: treasury() })).body.movements).to.have.length(before);
  });

  it("burns on a bank's redemption: the amount is held at once and posted when the burn is confirmed", async () => {
    const [chainBefore, ledgerBefore] = [await onChain(), await ledgerPosted()];
    const requested = await world.api("POST", "/v1/funds/out", {
      key: alpha(),
      body: { bic: world.bic(0), amount: { value: "250000", currency: "BHD" } },
      idempotencyKey: randomUUID(),
    });
    expect(requested.status, JSON.stringify(requested.body)).to.equal(201);
    const held = await account(world.api, alpha(), "BHD");
    expect(BigInt(held.pendingDebits)).to.be.at.least(250_000n);
    await reaches(requested.body.id, "completed");
    expect(await onChain()).to.equal(chainBefore - 250_000n);
    expect(await ledgerPosted()).to.equal(ledgerBefore - 250_000n);
  });

  describe("refused redemptions change nothing", () => {
    const cases: [string, () => { key: string; body: unknown }, number, string][] = [
      ["more than the bank holds", () => ({ key: alpha(), body: { bic: world.bic(0), amount: { value: "999999999999999", currency: "BHD" } } }), 422, "insufficient_funds"],
      ["another bank's tokens", () => ({ key: alpha(), body: { bic: world.bic(1), amount: { value: "1", currency: "BHD" } } }), 422, "forbidden_agent"],
      ["a currency without a token", () => ({ key: alpha(), body: { bic: world.bic(0), amount: { value: "1", currency: "EUR" } } }), 422, "currency_not_supported"],
      ["a zero amount", () => ({ key: alpha(), body: { bic: world.bic(0), amount: { value: "0", currency: "BHD" } } }), 400, "invalid_amount"],
    ];
    for (const [what, request, status, code] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        const before = await account(world.api, alpha(), "BHD");
        const { key, body } = request();
        const res = await world.api("POST", "/v1/funds/out", { key, body, idempotencyKey: randomUUID() });
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.body.error.code).to.equal(code);
        expect(await account(world.api, alpha(), "BHD")).to.deep.equal(before);
      });
    }
  });
});
