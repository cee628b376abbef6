import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { network } from "hardhat";
import { account, startRelayWorld, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { allowRelayOperator } from "../../scripts/lib/demo";
import { bytes16ToUetr, uetrToBytes16 } from "../../server/chain/typed-data";

/** Bank 0 pays bank 1 in JPY from GBP; bank 2, the liquidity provider, quotes 150 yen a pound. */
describe("cross-currency payments settled payment-versus-payment (HTTP, in-process chain)", function () {
  this.timeout(120_000);
  let world: RelayWorld;
  let skew = 0;

  before(async () => {
    world = await startRelayWorld({ env: { AUTO_RELEASE: "true" }, now: () => Date.now() + skew });
    const rates = await world.api("PUT", "/v1/fx/rates", {
      key: key(2),
      body: { rates: [{ pair: "GBP/JPY", rate: "150", spreadBps: 0, validUntil: new Date(world.now() + 3_600_000).toISOString() }] },
    });
    expect(rates.status, JSON.stringify(rates.body)).to.equal(200);
  });
  after(async () => world?.stop());

  const key = (index: number) => world.keys.banks[world.bic(index)];
  const quote = async (bank = 0, sourceAmount = "1000") => {
    const res = await world.api("POST", "/v1/quotes", { key: key(bank), body: { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount }, idempotencyKey: randomUUID() });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; provider: string; target: { value: string } };
  };
  const pay = (quoteId: string, overrides: Record<string, unknown> = {}) =>
    world.api("POST", "/v1/payments", {
      key: key(0),
      idempotencyKey: randomUUID(),
      body: {
        endToEndId: `FX-${randomUUID().slice(0, 8)}`,
        debtorAgent: { bic: world.bic(0) },
        creditorAgent: { bic: world.bic(1) },
        amount: { value: "1000", currency: "GBP" },
        quoteId,
        ...overrides,
      },
    });
  const reaches = (uetr: string, status: string, bank: number) =>
    eventually(async () => {
      const res = await world.api("GET", `/v1/payments/${uetr}`, { key: key(bank) });
      return res.body.status === status ? res.body : undefined;
    }, 30_000, `${uetr} ${status}`);
  const counts = async () => {
    const { db } = world.relay.database;
    const n = async (table: "payments" | "chain_intents" | "pvp_links") => Number((await db.selectFrom(table).select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
    return [await n("payments"), await n("chain_intents"), await n("pvp_links")];
  };

  it("refuses an expired, foreign, reused or mismatched quote with a 4xx code and stores nothing", async () => {
    const before = await counts();
    const mismatch = await pay((await quote()).id, { amount: { value: "999", currency: "GBP" } });
    expect([mismatch.status, mismatch.body.error.code]).to.deep.equal([422, "quote_mismatch"]);
    const foreign = await pay((await quote(3)).id);
    expect([foreign.status, foreign.body.error.code]).to.deep.equal([422, "quote_not_found"]);
    const unknown = await pay(randomUUID());
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([422, "quote_not_found"]);
    const expiring = await quote();
    skew += 61_000; // past the 60 s quote TTL
    try {
      const expired = await pay(expiring.id);
      expect([expired.status, expired.body.error.code]).to.deep.equal([422, "quote_expired"]);
    } finally {
      skew -= 61_000;
    }
    expect(await counts()).to.deep.equal(before);

    const once = await quote();
    const first = await pay(once.id);
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    const after = await counts();
    const twice = await pay(once.id);
    expect([twice.status, twice.body.error.code]).to.deep.equal([409, "quote_used"]);
    expect(await counts()).to.deep.equal(after);
    await reaches(first.body.uetr, "SETTLED", 0);
  });

  it("settles both legs in one settlePvP: debtor pays the provider GBP, the provider pays the creditor JPY", async () => {
    const { escrow, tokens, banks } = world.fixture;
    const [debtor, creditor, provider] = [banks[0], banks[1], banks[2]];
    const balances = async () => [
      await tokens.GBP.balanceOf(debtor), await tokens.GBP.balanceOf(provider), await tokens.JPY.balanceOf(provider), await tokens.JPY.balanceOf(creditor),
    ];
    const before = await balances();
    const q = await quote();
    expect([q.provider, q.target.value]).to.deep.equal([world.bic(2), "1500"]);
    const created = await pay(q.id);
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const { uetr, fx } = created.body;
    expect(fx).to.deep.include({ quoteId: q.id, leg: "A", provider: { bic: world.bic(2) }, creditorAgent: { bic: world.bic(1) } });
    expect(fx.target).to.deep.equal({ value: "1500", currency: "JPY" });

    const legA = await reaches(uetr, "SETTLED", 0);
    const legB = await reaches(fx.linkedUetr, "SETTLED", 1);
    expect(legA.fx.linkedUetr).to.equal(legB.uetr);
    expect([legB.fx.leg, legB.fx.linkedUetr, legB.debtorAgent.bic, legB.amount.value]).to.deep.equal(["B", uetr, world.bic(2), "1500"]);

    const settled = await escrow.queryFilter(escrow.filters.PvPSettled(uetrToBytes16(uetr)));
    expect(settled.map((e) => [bytes16ToUetr(e.args.uetrA), bytes16ToUetr(e.args.uetrB)])).to.deep.equal([[uetr, legB.uetr]]);
    const [gbpDebtor, gbpProvider, jpyProvider, jpyCreditor] = before;
    expect(await balances()).to.deep.equal([gbpDebtor - 1000n, gbpProvider + 1000n, jpyProvider - 1500n, jpyCreditor + 1500n]);
    for (const bank of [0, 1, 2]) {
      for (const currency of ["GBP", "JPY"]) {
        const row = await account(world.api, key(bank), currency);
        expect([row.posted, row.pendingDebits], `bank ${bank} ${currency}`).to.deep.equal([row.onChain, "0"]);
      }
    }
  });

  it("refunds the debtor's leg at expiry when the provider's leg never locks", async () => {
    const { escrow, tokens, banks, admin } = world.fixture;
    const gbpBefore = await tokens.GBP.balanceOf(banks[0]);
    // The provider withdraws the relay's allowance: its lock is refused on chain.
    await (await escrow.connect(banks[2]).setOperatorAllowance(admin.address, tokens.JPY, 0)).wait();
    try {
      const created = await pay((await quote()).id, { expiresInSeconds: 900 });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const { uetr, fx } = created.body;
      const rejected = await reaches(fx.linkedUetr, "REJECTED", 2);
      expect(rejected.statusReason).to.match(/OperatorAllowanceExceeded/);
      await reaches(uetr, "LOCKED", 0);
      expect(await tokens.GBP.balanceOf(banks[0])).to.equal(gbpBefore - 1000n);

      const jump = 1_000;
      skew += jump * 1_000;
      await network.provider.send("evm_increaseTime", [jump]);
      const refunded = await reaches(uetr, "REFUNDED", 0);
      expect(refunded.history.map((h: { status: string }) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "REFUNDED"]);
      expect(await tokens.GBP.balanceOf(banks[0])).to.equal(gbpBefore);
      expect(await escrow.paymentState(uetrToBytes16(uetr))).to.equal(3n);
      expect(await escrow.queryFilter(escrow.filters.PvPSettled(uetrToBytes16(uetr)))).to.have.length(0);
    } finally {
      await allowRelayOperator(banks[2], { escrow, token: tokens.JPY }, admin.address);
    }
  });
});
