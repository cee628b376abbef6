import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { JsonRpcProvider, MaxUint256, ZeroHash, getAddress, id, keccak256, toUtf8Bytes } from "ethers";
import { sql } from "kysely";
import type { DatabaseHandle, Db, Dialect } from "../../server/db/database";
import { enqueueChainIntent } from "../../server/chain/outbox";
import { movementEvidence, movementIdFromEvidence } from "../../server/chain/evidence";
import type { FundsChainHooks, FundsObservation } from "../../server/chain/funds-hooks";
import { createChainSubmitter, type ChainSubmitterDeps } from "../../server/chain/submitter";
import { createChainIndexer, type ChainEventHooks, type ChainIndexerDeps } from "../../server/chain/indexer";
import { ZERO_BYTES16, ZERO_BYTES32, uetrToBytes16, type LockTerms } from "../../server/chain/typed-data";
import { deployCorridorFixture, signRelease } from "../contracts/fixtures";
import { serveNetworkOverHttp, withFundedOperator, type OperatorFixture } from "./chain-support";
import { forEachDialect, openTestDatabase } from "./databases";

const OPERATOR_KEY = id("corridor chain-funds test operator");

/** The operator issues every token, and bank 0 lets it burn its tokens. */
async function issuerFixture(): Promise<OperatorFixture> {
  const f = await withFundedOperator(await deployCorridorFixture(), OPERATOR_KEY);
  for (const token of Object.values(f.tokens)) {
    await (await token.grantRole(await token.ISSUER_ROLE(), f.operator.address)).wait();
    await (await token.connect(f.banks[0]).approve(f.operator.address, MaxUint256)).wait();
  }
  return f;
}

/** Records the funds hooks in the caller's transaction, so that a rolled-back step leaves no record. */
async function createHookTable(db: Db): Promise<void> {
  await sql`create table test_funds_calls (seq integer not null, hook text not null, movement_id text not null, detail text not null)`.execute(db);
}

function fundsRecorder(): FundsChainHooks {
  let seq = 0;
  const record = (db: Db, hook: string, movementId: string, detail: object) =>
    sql`insert into test_funds_calls values (${seq++}, ${hook}, ${movementId}, ${JSON.stringify(detail)})`.execute(db).then(() => true);
  const observed = (hook: string) => (db: Db, o: FundsObservation) => record(db, hook, o.movementId, { ...o, amount: o.amount.toString() });
  return {
    onMinted: observed("onMinted"),
    onBurned: observed("onBurned"),
    unapplyMinted: observed("unapplyMinted"),
    unapplyBurned: observed("unapplyBurned"),
    onChainFailed: async (db, movementId, kind, reason) => void (await record(db, "onChainFailed", movementId, { kind, reason })),
  };
}

async function fundsCalls(db: Db): Promise<{ hook: string; movementId: string; detail: Record<string, string> }[]> {
  const rows = await sql<{ hook: string; movement_id: string; detail: string }>`select * from test_funds_calls order by seq`.execute(db);
  return rows.rows.map((r) => ({ hook: r.hook, movementId: r.movement_id, detail: JSON.parse(r.detail) }));
}

const ignoredPayments: ChainEventHooks = {
  onLocked: async () => true,
  onReleased: async () => true,
  onRefunded: async () => true,
  unapplyLocked: async () => true,
  unapplyReleased: async () => true,
  unapplyRefunded: async () => true,
};

/** Mines blocks one by one (see chain-indexer.test.ts on hardhat_mine after time travel). */
async function mine(blocks: number): Promise<void> {
  for (let k = 0; k < blocks; k++) await network.provider.send("evm_mine", []);
}

describe("chain funds (mint and burn)", function () {
  const rpc = serveNetworkOverHttp();

  it("encodes a movement id as evidence and reads it back", function () {
    for (let k = 0; k < 20; k++) {
      const movementId = randomUUID();
      const evidence = movementEvidence(movementId.toUpperCase());
      expect(evidence).to.match(/^0x[0-9a-f]{32}0{32}$/);
      expect(evidence.slice(2, 34)).to.equal(movementId.replace(/-/g, ""));
      expect(movementIdFromEvidence(evidence)).to.equal(movementId);
      expect(movementIdFromEvidence(evidence.toUpperCase().replace("0X", "0x"))).to.equal(movementId);
    }
  });

  it("reads foreign evidence as no movement, and refuses to encode what is not a UUID v4", function () {
    const movementId = randomUUID();
    const evidence = movementEvidence(movementId);
    expect(movementIdFromEvidence(keccak256(toUtf8Bytes("camt.053 entry 42")))).to.equal(null);
    expect(movementIdFromEvidence(ZeroHash)).to.equal(null);
    expect(movementIdFromEvidence(`${evidence.slice(0, -1)}1`)).to.equal(null); // low bytes not zero
    expect(movementIdFromEvidence(`0x${"ab".repeat(16)}${"00".repeat(16)}`)).to.equal(null); // not a UUID v4
    expect(movementIdFromEvidence(evidence.slice(0, -2))).to.equal(null); // not 32 bytes
    expect(() => movementEvidence("c232ab00-9414-11ec-b3c8-9f6bdeced846")).to.throw(/UUID v4/); // a v1 UUID
    expect(() => movementEvidence("not a uuid")).to.throw(/UUID v4/);
  });

  forEachDialect("chain funds", (dialect: Dialect) => {
    let f: OperatorFixture;
    let handle: DatabaseHandle;
    let provider: JsonRpcProvider;
    let firstBlock: number;
    const clock = { t: 0 };
    const cleanups: (() => Promise<void>)[] = [];

    beforeEach(async function () {
      f = await loadFixture(issuerFixture);
      provider = new JsonRpcProvider(rpc.url(), 31337, { staticNetwork: true, cacheTimeout: -1 });
      cleanups.push(async () => provider.destroy());
      handle = await openTestDatabase(dialect);
      cleanups.push(() => handle.close());
      await createHookTable(handle.db);
      firstBlock = (await provider.getBlockNumber()) + 1;
      clock.t = Date.now();
    });

    afterEach(async function () {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    const gbp = () => getAddress(f.tokens.GBP.target as string);
    const balanceOf = (account: { address: string }) => f.tokens.GBP.balanceOf(account.address);

    function submitter(overrides: Partial<ChainSubmitterDeps> = {}) {
      return createChainSubmitter({
        ...{ db: handle.db, dialect, provider, signer: f.operator, escrowAddress: f.escrow.target as string },
        ...{ payments: { markSubmitted: async () => true, markRejected: async () => true }, funds: fundsRecorder() },
        ...{ workerId: "worker", leaseMs: 30_000, batchSize: 20, now: () => clock.t, receiptPollMs: 0, retry: { baseMs: 0 } },
        ...overrides,
      });
    }

    function indexer(overrides: Partial<ChainIndexerDeps> = {}) {
      return createChainIndexer({
        ...{ db: handle.db, dialect, provider, escrowAddress: f.escrow.target as string, fromBlock: firstBlock, confirmations: 0 },
        ...{ tokenAddresses: Object.values(f.tokens).map((t) => t.target as string), payments: ignoredPayments, funds: fundsRecorder() },
        batchBlocks: 50,
        ...overrides,
      });
    }

    /** Enqueues a movement's mint or burn of GBP as the funds service does; returns the movement id. */
    async function enqueueIssuance(kind: "mint" | "burn", account: { address: string }, amount: bigint, movementId: string = randomUUID()): Promise<string> {
      const payload = { token: gbp(), account: account.address, amount: amount.toString(), evidence: movementEvidence(movementId) };
      await enqueueChainIntent(handle.db, { kind, uetr: movementId, payload }, clock.t);
      return movementId;
    }

    const intents = () => handle.db.selectFrom("chain_intents").selectAll().orderBy("created_at").execute();
    const transactions = () => handle.db.selectFrom("chain_transactions").selectAll().execute();
    const events = (name: string) => handle.db.selectFrom("chain_events").selectAll().where("name", "=", name).execute();
    const blockTimeMs = async (block: number) => (await provider.getBlock(block))!.timestamp * 1000;

    /** The observation the funds hooks should get for a movement's intent, as recorded. */
    async function expectedObservation(movementId: string, account: { address: string }, amount: bigint) {
      const intent = (await intents()).find((i) => i.uetr === movementId)!;
      const receipt = (await provider.getTransactionReceipt(intent.tx_hash!))!;
      const observation = { movementId, txHash: intent.tx_hash, blockNumber: receipt.blockNumber, token: gbp(), account: account.address };
      return { ...observation, amount: amount.toString() };
    }

    it("mints once for a mint intent and reports its Minted event once, with block time, amount and token", async function () {
      const bank = f.banks[0];
      const before = await balanceOf(bank);
      const movementId = await enqueueIssuance("mint", bank, 12_345n);
      await enqueueIssuance("mint", bank, 12_345n); // another movement
      await enqueueIssuance("mint", bank, 12_345n, movementId);
      expect(await intents()).to.have.length(2); // a movement's mint is enqueued once

      const s = submitter();
      await s.runOnce(); // one transaction per intent
      expect(await transactions()).to.have.length(2);
      await s.runOnce();
      expect((await intents()).map((i) => i.status)).to.deep.equal(["done", "done"]);
      expect((await balanceOf(bank)) - before).to.equal(24_690n);

      const ix = indexer();
      expect(await ix.runOnce()).to.equal(2);
      expect(await ix.runOnce()).to.equal(0);
      const calls = await fundsCalls(handle.db);
      expect(calls.map((c) => c.hook)).to.deep.equal(["onMinted", "onMinted"]);
      const observation = await expectedObservation(movementId, bank, 12_345n);
      expect(calls.find((c) => c.movementId === movementId)!.detail).to.deep.equal(observation);

      const row = (await events("Minted")).find((e) => e.uetr === movementId)!;
      expect(row).to.include({ amount: "12345", token: gbp(), tx_hash: observation.txHash });
      expect(Number(row.block_time)).to.equal(await blockTimeMs(observation.blockNumber));
      expect(JSON.parse(row.args)).to.deep.equal({ to: bank.address, amount: "12345", evidence: movementEvidence(movementId) });
    });

    it("does not mint twice when a mint is sent again after a crash that followed its broadcast", async function () {
      const bank = f.banks[1];
      const before = await balanceOf(bank);
      const movementId = await enqueueIssuance("mint", bank, 5_000n);
      // The node takes the transaction, then the relay dies before it hears back.
      const crashing = submitter({
        sendRawTransaction: async (raw) => {
          await provider.send("eth_sendRawTransaction", [raw]);
          throw new Error("simulated crash after eth_sendRawTransaction");
        },
      });
      await crashing.runOnce();
      await crashing.stop();
      expect((await intents())[0].status).to.equal("sent");
      expect((await balanceOf(bank)) - before).to.equal(5_000n);

      // Its record of the send is lost: the intent is pending again, then enqueued anew.
      await handle.db.updateTable("chain_intents").set({ status: "pending", tx_hash: null }).execute();
      const restarted = submitter({ workerId: "restarted" });
      await restarted.runOnce();
      expect((await intents())[0]).to.include({ status: "done", last_error: null });
      await handle.db.deleteFrom("chain_intents").execute();
      await enqueueIssuance("mint", bank, 5_000n, movementId);
      await restarted.runOnce();
      expect((await intents())[0]).to.include({ status: "done", tx_hash: null });

      expect(await transactions()).to.have.length(1);
      expect((await balanceOf(bank)) - before).to.equal(5_000n);
      expect(await indexer().runOnce()).to.equal(1);
      expect((await fundsCalls(handle.db)).map((c) => `${c.hook} ${c.movementId}`)).to.deep.equal([`onMinted ${movementId}`]);
    });

    it("burns a bank's tokens with its allowance and reports the Burned event", async function () {
      const bank = f.banks[0];
      const before = await balanceOf(bank);
      const movementId = await enqueueIssuance("burn", bank, 7_500n);
      const s = submitter();
      await s.runOnce();
      await s.runOnce();
      expect((await intents())[0].status).to.equal("done");
      expect(before - (await balanceOf(bank))).to.equal(7_500n);

      expect(await indexer().runOnce()).to.equal(1);
      const observation = await expectedObservation(movementId, bank, 7_500n);
      expect(await fundsCalls(handle.db)).to.deep.equal([{ hook: "onBurned", movementId, detail: observation }]);
      const [row] = await events("Burned");
      expect(row).to.include({ uetr: movementId, amount: "7500", token: gbp() });
      expect(Number(row.block_time)).to.equal(await blockTimeMs(observation.blockNumber));
    });

    it("fails a burn beyond the holder's balance with the token's reason, once its attempts are used", async function () {
      const bank = f.banks[0];
      const before = await balanceOf(bank);
      const movementId = await enqueueIssuance("burn", bank, before + 1n);
      const s = submitter({ retry: { baseMs: 0, maxAttempts: 2 } });
      await s.runOnce();
      const retried = (await intents())[0];
      expect(retried).to.include({ status: "pending", attempts: 1 });
      expect(retried.last_error).to.match(/^ERC20InsufficientBalance\(0x[0-9a-fA-F]{40}, \d+, \d+\)$/);
      expect(await fundsCalls(handle.db)).to.deep.equal([]);

      await s.runOnce();
      const failed = (await intents())[0];
      expect(failed).to.include({ status: "failed", attempts: 2, last_error: retried.last_error });
      expect(await fundsCalls(handle.db)).to.deep.equal([
        { hook: "onChainFailed", movementId, detail: { kind: "burn", reason: retried.last_error } },
      ]);
      expect(await transactions()).to.have.length(0);
      expect(await balanceOf(bank)).to.equal(before);
    });

    it("fails a malformed mint at once, and retries a mint to a holder the registry refuses", async function () {
      const zero = await enqueueIssuance("mint", f.banks[0], 0n);
      const outsider = await enqueueIssuance("mint", f.outsider, 100n);
      await submitter({ retry: { baseMs: 0, maxAttempts: 3 } }).runOnce();
      const byId = new Map((await intents()).map((i) => [i.uetr, i]));
      expect(byId.get(zero)).to.include({ status: "failed", last_error: "ZeroAmount()" });
      expect(byId.get(outsider)).to.include({ status: "pending", last_error: `HolderNotAllowed(${f.outsider.address})` });
      expect(await fundsCalls(handle.db)).to.deep.equal([
        { hook: "onChainFailed", movementId: zero, detail: { kind: "mint", reason: "ZeroAmount()" } },
      ]);
    });

    it("stores a mint with foreign evidence without a movement and tells no one", async function () {
      const evidence = keccak256(toUtf8Bytes("camt.053 entry 42"));
      await (await f.tokens.GBP.connect(f.admin).mint(f.banks[2].address, 100n, evidence)).wait();
      expect(await indexer().runOnce()).to.equal(1);
      const [row] = await events("Minted");
      expect(row).to.include({ uetr: null, amount: "100", token: gbp() });
      expect(JSON.parse(row.args)).to.deep.equal({ to: f.banks[2].address, amount: "100", evidence });
      expect(await fundsCalls(handle.db)).to.deep.equal([]);
    });

    it("unapplies a mint orphaned by a reorganization and applies it again once its transaction is mined anew", async function () {
      const bank = f.banks[0];
      const before = await balanceOf(bank);
      const ix = indexer();
      await mine(1);
      await ix.runOnce();
      const snapshot = await network.provider.send("evm_snapshot", []);
      const movementId = await enqueueIssuance("mint", bank, 2_000n);
      const s = submitter();
      await s.runOnce();
      await s.runOnce();
      expect(await ix.runOnce()).to.equal(1);
      const first = await expectedObservation(movementId, bank, 2_000n);

      await network.provider.send("evm_revert", [snapshot]); // the mint's block is orphaned
      await mine(3);
      expect(await ix.runOnce()).to.equal(0);
      expect((await intents())[0].status).to.equal("sent"); // its transaction is no longer mined
      expect(await balanceOf(bank)).to.equal(before);

      await s.runOnce(); // rebroadcasts the stored transaction
      await s.runOnce();
      expect((await intents())[0].status).to.equal("done");
      expect(await ix.runOnce()).to.equal(1);
      const again = await expectedObservation(movementId, bank, 2_000n);
      expect(again.blockNumber).to.not.equal(first.blockNumber);
      expect(await fundsCalls(handle.db)).to.deep.equal([
        { hook: "onMinted", movementId, detail: first },
        { hook: "unapplyMinted", movementId, detail: first },
        { hook: "onMinted", movementId, detail: again },
      ]);
      expect(await events("Minted")).to.have.length(1);
      expect(await transactions()).to.have.length(1);
      expect((await balanceOf(bank)) - before).to.equal(2_000n);
    });

    /** A payment bank 0 locks directly on the escrow. */
    async function lock(expiresIn = 3600): Promise<{ uetr: string; terms: LockTerms }> {
      const uetr = randomUUID();
      const expiry = BigInt((await time.latest()) + expiresIn);
      const [payee, token] = [f.banks[1].address, f.tokens.GBP.target as string];
      const request = { uetr: uetrToBytes16(uetr), payee, token, amount: 10_000n, expiry, hashlock: ZERO_BYTES32, linkedUetr: ZERO_BYTES16 };
      await (await f.escrow.connect(f.banks[0]).lock(request)).wait();
      return { uetr, terms: { ...request, payer: f.banks[0].address } };
    }

    it("keeps the block time, and the lock's amount and token, on Locked, Released and Refunded rows", async function () {
      const released = await lock();
      const refunded = await lock(60);
      await (await f.escrow.connect(f.admin).release(released.terms, await signRelease(f, f.admin, released.terms))).wait();
      await time.increase(120);
      await (await f.escrow.connect(f.admin).refund(refunded.terms)).wait();
      expect(await indexer().runOnce()).to.equal(4);

      const rows = await handle.db.selectFrom("chain_events").selectAll().orderBy("block_number").execute();
      expect(rows.map((r) => [r.name, r.uetr, r.amount, r.token])).to.deep.equal([
        ["Locked", released.uetr, "10000", gbp()],
        ["Locked", refunded.uetr, "10000", gbp()],
        ["Released", released.uetr, "10000", gbp()],
        ["Refunded", refunded.uetr, "10000", gbp()],
      ]);
      for (const row of rows) expect(Number(row.block_time)).to.equal(await blockTimeMs(Number(row.block_number)));
    });

    it("leaves the amount and token of a release whose lock was never indexed empty", async function () {
      const payment = await lock();
      firstBlock = (await provider.getBlockNumber()) + 1;
      await (await f.escrow.connect(f.admin).release(payment.terms, await signRelease(f, f.admin, payment.terms))).wait();
      expect(await indexer().runOnce()).to.equal(1);
      const [row] = await events("Released");
      expect(row).to.include({ uetr: payment.uetr, amount: null, token: null });
      expect(row.block_time).to.not.equal(null);
    });
  });
});
