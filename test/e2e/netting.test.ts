import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { startRelayWorld, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";

/** Net payments among the four test banks in GBP, settled by one window (the relay signs the approvals). */
describe("settlement windows: net payments settled by NettingSettlement (HTTP, in-process chain)", function () {
  this.timeout(120_000);
  let world: RelayWorld;

  before(async () => {
    world = await startRelayWorld({ approveWindows: true });
  });
  after(async () => world?.stop());

  const key = (index: number) => world.keys.banks[world.bic(index)];
  const payNet = async (from: number, to: number, value: string, extra: Record<string, unknown> = {}) => {
    const res = await world.api("POST", "/v1/payments", {
      key: key(from),
      idempotencyKey: randomUUID(),
      body: { endToEndId: `NET-${randomUUID().slice(0, 8)}`, debtorAgent: { bic: world.bic(from) }, creditorAgent: { bic: world.bic(to) }, amount: { value, currency: "GBP" }, settlement: "net", ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { uetr: string; status: string; windowId: string };
  };
  const windowOf = async (id: string) => (await world.api("GET", `/v1/windows/${id}`, { key: world.keys.treasury })).body;

  it("queues net payments in the open window, settles its net positions on chain, and proves each payment", async () => {
    const f = world.fixture;
    const token = f.tokens.GBP;
    const balancesBefore = await Promise.all(f.banks.map((b) => token.balanceOf(b.address)));
    const payments = [await payNet(0, 1, "1000"), await payNet(1, 0, "700"), await payNet(1, 2, "500"), await payNet(2, 0, "200")];
    expect(payments.map((p) => p.status)).to.deep.equal(["QUEUED", "QUEUED", "QUEUED", "QUEUED"]);
    const windowId = payments[0].windowId;
    expect(new Set(payments.map((p) => p.windowId))).to.deep.equal(new Set([windowId]));

    const closed = await world.api("POST", `/v1/windows/${windowId}/close`, { key: world.keys.treasury, idempotencyKey: randomUUID() });
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
    const settled = await eventually(async () => {
      const w = await windowOf(windowId);
      return w.state === "SETTLED" || w.state === "FAILED" ? w : undefined;
    }, 30_000, "window settled");
    expect(settled.state, settled.failureReason).to.equal("SETTLED");
    expect(settled.paymentCount).to.equal(4);
    // Net: bank0 -1000+700+200 = -100; bank1 +1000-700-500 = -200; bank2 +500-200 = +300.
    const byBic = Object.fromEntries(settled.positions.map((p: { bic: string; amount: string }) => [p.bic, p.amount]));
    expect(byBic).to.deep.equal({ [world.bic(0)]: "-100", [world.bic(1)]: "-200", [world.bic(2)]: "300" });
    const balancesAfter = await Promise.all(f.banks.map((b) => token.balanceOf(b.address)));
    expect(balancesAfter.map((b, i) => b - balancesBefore[i])).to.deep.equal([-100n, -200n, 300n, 0n]);

    for (const p of payments) {
      const payment = await eventually(async () => {
        const res = await world.api("GET", `/v1/payments/${p.uetr}`, { key: key(0) === undefined ? world.keys.treasury : world.keys.treasury });
        return res.body.status === "SETTLED" ? res.body : undefined;
      }, 10_000, "payment settled");
      expect(payment.windowId).to.equal(windowId);
      const proof = await world.api("GET", `/v1/payments/${p.uetr}/proof`, { key: world.keys.treasury });
      expect(proof.status, JSON.stringify(proof.body)).to.equal(200);
      const { leaf } = proof.body;
      expect(await f.netting.verifyPayment(proof.body.chainWindowId, { ...leaf, amount: BigInt(leaf.amount) }, proof.body.proof)).to.equal(true);
      expect(await f.netting.verifyPayment(proof.body.chainWindowId, { ...leaf, amount: BigInt(leaf.amount) + 1n }, proof.body.proof)).to.equal(false);
    }
  });
});
