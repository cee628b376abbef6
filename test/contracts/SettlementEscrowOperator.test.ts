import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { MaxUint256, ZeroAddress } from "ethers";
import { deployCorridorFixture, lockRequest, type CorridorFixture } from "./fixtures";

/** Operator locks: a bank lets the relay lock on its behalf, per token, within a revocable allowance. */
describe("SettlementEscrow operator locks", function () {
  async function setup() {
    const f = await loadFixture(deployCorridorFixture);
    const [alice, bob, carol] = f.banks;
    const operator = f.admin;
    const gbp = f.tokens.GBP;
    const jpy = f.tokens.JPY;
    return { ...f, alice, bob, carol, operator, gbp, jpy };
  }

  async function balances(f: CorridorFixture & { gbp: CorridorFixture["tokens"][string] }, accounts: string[]) {
    return Promise.all(accounts.map((account) => f.gbp.balanceOf(account)));
  }

  describe("setOperatorAllowance", function () {
    it("records the allowance per payer, operator and token, and emits OperatorAllowanceSet", async function () {
      const f = await setup();
      await expect(f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 5_000n))
        .to.emit(f.escrow, "OperatorAllowanceSet")
        .withArgs(f.alice.address, f.operator.address, await f.gbp.getAddress(), 5_000n);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(5_000n);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.jpy)).to.equal(0n);
      expect(await f.escrow.operatorAllowance(f.bob.address, f.operator.address, f.gbp)).to.equal(0n);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.bob.address, f.gbp)).to.equal(0n);
    });

    it("revokes with zero", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 5_000n);
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 0n);
      const request = await lockRequest(f.bob, f.gbp, { amount: 1n });
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request))
        .to.be.revertedWithCustomError(f.escrow, "OperatorAllowanceExceeded")
        .withArgs(f.alice.address, f.operator.address, await f.gbp.getAddress(), 1n, 0n);
    });

    it("rejects a zero operator or token with ZeroAddress", async function () {
      const f = await setup();
      await expect(f.escrow.connect(f.alice).setOperatorAllowance(ZeroAddress, f.gbp, 1n)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
      await expect(
        f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, ZeroAddress, 1n),
      ).to.be.revertedWithCustomError(f.escrow, "ZeroAddress");
    });
  });

  describe("lockFor", function () {
    it("locks the payer's tokens and consumes the allowance", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 25_000n);
      const request = await lockRequest(f.bob, f.gbp, { amount: 10_000n });
      const tx = f.escrow.connect(f.operator).lockFor(f.alice.address, request);
      await expect(tx)
        .to.emit(f.escrow, "Locked")
        .withArgs(request.uetr, f.alice.address, f.bob.address, request.token, 10_000n, request.expiry, request.hashlock, request.linkedUetr);
      await expect(tx)
        .to.emit(f.escrow, "OperatorAllowanceSet")
        .withArgs(f.alice.address, f.operator.address, request.token, 15_000n);
      await expect(tx).to.changeTokenBalances(f.gbp, [f.alice, f.escrow, f.operator], [-10_000n, 10_000n, 0n]);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(15_000n);
      expect(await f.escrow.paymentState(request.uetr)).to.equal(1n);
    });

    it("never runs down an unlimited allowance", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, MaxUint256);
      const request = await lockRequest(f.bob, f.gbp);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request)).not.to.emit(f.escrow, "OperatorAllowanceSet");
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(MaxUint256);
    });

    it("rejects a lock over the allowance with OperatorAllowanceExceeded and changes nothing", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 9_999n);
      const request = await lockRequest(f.bob, f.gbp, { amount: 10_000n });
      const holders = [f.alice.address, f.bob.address, await f.escrow.getAddress()];
      const before = await balances(f, holders);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request))
        .to.be.revertedWithCustomError(f.escrow, "OperatorAllowanceExceeded")
        .withArgs(f.alice.address, f.operator.address, request.token, 10_000n, 9_999n);
      expect(await balances(f, holders)).to.deep.equal(before);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(9_999n);
      expect(await f.escrow.paymentState(request.uetr)).to.equal(0n);
    });

    it("does not let an allowance for one token, or given to another operator, be used", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.jpy, MaxUint256);
      await f.escrow.connect(f.alice).setOperatorAllowance(f.carol.address, f.gbp, MaxUint256);
      const request = await lockRequest(f.bob, f.gbp);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request))
        .to.be.revertedWithCustomError(f.escrow, "OperatorAllowanceExceeded")
        .withArgs(f.alice.address, f.operator.address, request.token, request.amount, 0n);
    });

    it("still needs the payer's ERC-20 approval of the escrow", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, MaxUint256);
      await f.gbp.connect(f.alice).approve(f.escrow, 0n);
      const request = await lockRequest(f.bob, f.gbp);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientAllowance")
        .withArgs(await f.escrow.getAddress(), 0n, request.amount);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(MaxUint256);
    });

    it("applies the payer's registry checks: a suspended payer cannot be locked for", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, MaxUint256);
      await f.registry.suspend(f.alice.address);
      const request = await lockRequest(f.bob, f.gbp);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(f.alice.address);
    });

    it("is stopped by a pause", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, MaxUint256);
      await f.escrow.pause();
      const request = await lockRequest(f.bob, f.gbp);
      await expect(f.escrow.connect(f.operator).lockFor(f.alice.address, request)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      await expect(f.escrow.connect(f.operator).lockBatchFor([{ payer: f.alice.address, request }])).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
    });
  });

  describe("lockBatchFor", function () {
    it("locks for several payers in one transaction", async function () {
      const f = await setup();
      for (const bank of [f.alice, f.bob]) {
        await f.escrow.connect(bank).setOperatorAllowance(f.operator.address, f.gbp, 30_000n);
      }
      const locks = [
        { payer: f.alice.address, request: await lockRequest(f.bob, f.gbp, { amount: 10_000n }) },
        { payer: f.bob.address, request: await lockRequest(f.carol, f.gbp, { amount: 20_000n }) },
        { payer: f.alice.address, request: await lockRequest(f.carol, f.gbp, { amount: 5_000n }) },
      ];
      await expect(f.escrow.connect(f.operator).lockBatchFor(locks)).to.changeTokenBalances(
        f.gbp,
        [f.alice, f.bob, f.escrow],
        [-15_000n, -20_000n, 35_000n],
      );
      for (const { request } of locks) expect(await f.escrow.paymentState(request.uetr)).to.equal(1n);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(15_000n);
      expect(await f.escrow.operatorAllowance(f.bob.address, f.operator.address, f.gbp)).to.equal(10_000n);
    });

    it("is all or nothing: one lock over its allowance reverts the batch", async function () {
      const f = await setup();
      await f.escrow.connect(f.alice).setOperatorAllowance(f.operator.address, f.gbp, 30_000n);
      await f.escrow.connect(f.bob).setOperatorAllowance(f.operator.address, f.gbp, 100n);
      const first = await lockRequest(f.bob, f.gbp, { amount: 10_000n });
      const second = await lockRequest(f.carol, f.gbp, { amount: 10_000n });
      await expect(
        f.escrow.connect(f.operator).lockBatchFor([
          { payer: f.alice.address, request: first },
          { payer: f.bob.address, request: second },
        ]),
      )
        .to.be.revertedWithCustomError(f.escrow, "OperatorAllowanceExceeded")
        .withArgs(f.bob.address, f.operator.address, second.token, 10_000n, 100n);
      expect(await f.escrow.paymentState(first.uetr)).to.equal(0n);
      expect(await f.escrow.operatorAllowance(f.alice.address, f.operator.address, f.gbp)).to.equal(30_000n);
    });

    it("rejects an empty or oversized batch", async function () {
      const f = await setup();
      await expect(f.escrow.connect(f.operator).lockBatchFor([])).to.be.revertedWithCustomError(f.escrow, "EmptyBatch");
      const request = await lockRequest(f.bob, f.gbp);
      const tooMany = Array.from({ length: 101 }, () => ({ payer: f.alice.address, request }));
      await expect(f.escrow.connect(f.operator).lockBatchFor(tooMany))
        .to.be.revertedWithCustomError(f.escrow, "BatchTooLarge")
        .withArgs(101n, 100n);
    });
  });
});
