import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { JsonRpcProvider, MaxUint256, Transaction, id, parseUnits, type TransactionRequest } from "ethers";
import { sql } from "kysely";
import { openDatabase, type DatabaseHandle, type Db, type Dialect } from "../../server/db/database";
import { enqueueChainIntent, termsToPayload } from "../../server/chain/outbox";
import { ZERO_BYTES16, ZERO_BYTES32, uetrToBytes16, type LockTerms } from "../../server/chain/typed-data";
import { createChainSubmitter, type ChainSubmitter, type ChainSubmitterDeps } from "../../server/chain/submitter";
import { bumpFees } from "../../server/chain/nonce-manager";
import { deployCorridorFixture, signRelease } from "../contracts/fixtures";
import { serveNetworkOverHttp, withFundedOperator, type OperatorFixture } from "./chain-support";
import { TEST_POSTGRES_URL, forEachDialect, openTestDatabase } from "./databases";
import { eventually } from "../support/eventually";

const OPERATOR_KEY = id("corridor chain-submitter test operator");
const STUCK_AFTER_MS = 60_000;

/** The operator is attester and has every bank's operator allowance. */
async function operatorFixture(): Promise<OperatorFixture> {
  const f = await withFundedOperator(await deployCorridorFixture(), OPERATOR_KEY);
  const { operator } = f;
  await (await f.escrow.grantRole(await f.escrow.ATTESTER_ROLE(), operator.address)).wait();
  for (const bank of f.banks) {
    for (const token of Object.values(f.tokens)) {
      await (await f.escrow.connect(bank).setOperatorAllowance(operator.address, token, MaxUint256)).wait();
    }
  }
  return f;
}

/** Records the payment hooks in the database, in the caller's transaction, to count them exactly. */
async function createHookTable(db: Db): Promise<void> {
  await sql`create table test_hook_calls (hook text not null, uetr text not null, tx_hash text, reason text)`.execute(db);
}

function recorder(label = "") {
  const record = (db: Db, hook: string, uetr: string, txHash: string | null, reason: string | null) =>
    sql`insert into test_hook_calls values (${hook + label}, ${uetr}, ${txHash}, ${reason})`.execute(db).then(() => true);
  return {
    markSubmitted: (db: Db, s: { uetr: string; txHash: string }) => record(db, "submitted", s.uetr, s.txHash, null),
    markRejected: (db: Db, uetr: string, reason: string) => record(db, "rejected", uetr, null, reason),
  };
}

async function hookCalls(db: Db) {
  return (await sql<{ hook: string; uetr: string; tx_hash: string | null; reason: string | null }>`select * from test_hook_calls`.execute(db)).rows;
}

async function intents(db: Db) {
  return db.selectFrom("chain_intents").selectAll().orderBy("created_at").execute();
}

describe("chain submitter", function () {
  const rpc = serveNetworkOverHttp();

  /** A standard JSON-RPC client of the in-process network (no Hardhat-specific provider). */
  function rpcProvider(): JsonRpcProvider {
    return new JsonRpcProvider(rpc.url(), 31337, { staticNetwork: true, cacheTimeout: -1 });
  }

  it("bumps fees by at least 10% on both fields, and at least one wei", function () {
    const fees = (maxFeePerGas: bigint, maxPriorityFeePerGas: bigint) => ({ maxFeePerGas, maxPriorityFeePerGas });
    expect(bumpFees(fees(100n, 0n), fees(50n, 0n))).to.deep.equal(fees(110n, 1n));
    expect(bumpFees(fees(10n, 5n), fees(99n, 7n))).to.deep.equal(fees(99n, 7n)); // the node asks more
  });

  forEachDialect("chain submitter", (dialect: Dialect) => {
    let f: OperatorFixture;
    let handle: DatabaseHandle;
    let provider: JsonRpcProvider;
    const clock = { t: 0 };
    const cleanups: (() => Promise<void>)[] = [];

    beforeEach(async function () {
      f = await loadFixture(operatorFixture);
      provider = rpcProvider();
      cleanups.push(async () => provider.destroy());
      handle = await openTestDatabase(dialect);
      cleanups.push(() => handle.close());
      await createHookTable(handle.db);
      clock.t = Date.now();
    });

    afterEach(async function () {
      await network.provider.send("evm_setAutomine", [true]);
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    function submitter(overrides: Partial<ChainSubmitterDeps> = {}): ChainSubmitter {
      return createChainSubmitter({
        ...{ db: handle.db, dialect, provider, signer: f.operator, escrowAddress: f.escrow.target as string },
        ...{ payments: recorder(), workerId: "worker-a", leaseMs: 30_000, batchSize: 20, now: () => clock.t },
        ...{ stuckAfterMs: STUCK_AFTER_MS, receiptPollMs: 0, retry: { baseMs: 0 } },
        ...overrides,
      });
    }

    async function lockRequestFor(bank: number, payee: number, { amount = 10_000n, expiresIn = 3600 } = {}) {
      const uetr = randomUUID();
      const expiry = BigInt((await time.latest()) + expiresIn);
      const [payeeAddress, token] = [f.banks[payee].address, f.tokens.GBP.target as string];
      const request = { uetr: uetrToBytes16(uetr), payee: payeeAddress, token, amount, expiry, hashlock: ZERO_BYTES32, linkedUetr: ZERO_BYTES16 };
      return { uetr, request, terms: { ...request, payer: f.banks[bank].address } as LockTerms };
    }

    async function enqueueLock(db: Db, bank: number, payee: number, options: { amount?: bigint } = {}) {
      const lock = await lockRequestFor(bank, payee, options);
      const request = { ...lock.request, amount: lock.request.amount.toString(), expiry: lock.request.expiry.toString() };
      await enqueueChainIntent(db, { kind: "lock", uetr: lock.uetr, payload: { payer: f.banks[bank].address, request } }, clock.t);
      return lock;
    }

    /** A payment locked by its bank directly, for release and refund intents. */
    async function lockedPayment(expiresIn = 3600) {
      const lock = await lockRequestFor(0, 1, { expiresIn });
      await (await f.escrow.connect(f.banks[0]).lock(lock.request)).wait();
      return lock;
    }

    function crashingProvider(): JsonRpcProvider {
      const crashing = new CrashingProvider(rpc.url(), 31337, { staticNetwork: true, cacheTimeout: -1 });
      cleanups.push(async () => crashing.destroy());
      return crashing;
    }

    const stateOf = (uetr: string) => f.escrow.paymentState(uetrToBytes16(uetr));

    it("batches many waiting locks into one lockBatchFor transaction", async function () {
      const locks = [];
      for (let k = 0; k < 12; k++) locks.push(await enqueueLock(handle.db, k % 4, (k + 1) % 4));
      const s = submitter();
      expect(await s.runOnce()).to.equal(12);
      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(JSON.parse(txs[0].intent_ids)).to.have.length(12);
      expect((await intents(handle.db)).map((i) => i.status)).to.deep.equal(Array(12).fill("sent"));
      const submitted = await hookCalls(handle.db);
      expect(submitted.map((c) => c.hook)).to.deep.equal(Array(12).fill("submitted"));
      expect(new Set(submitted.map((c) => c.tx_hash))).to.deep.equal(new Set([txs[0].hash]));

      await s.runOnce();
      expect((await intents(handle.db)).map((i) => i.status)).to.deep.equal(Array(12).fill("done"));
      for (const lock of locks) expect(await stateOf(lock.uetr)).to.equal(1n);
      const receipt = await provider.getTransactionReceipt(txs[0].hash);
      expect(receipt!.logs.filter((l) => l.topics[0] === f.escrow.interface.getEvent("Locked").topicHash)).to.have.length(12);
    });

    it("keeps a mined transaction sent until it has the confirmation depth, and sends it again if a reorganization drops it", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      const s = submitter({ confirmations: 2 });
      const snapshot = await network.provider.send("evm_snapshot", []);
      await s.runOnce(); // signed, stored and sent; automine mines it
      await eventually(async () => ((await stateOf(lock.uetr)) === 1n ? true : undefined), 10_000, "the lock mined");
      await s.runOnce(); // mined, but with no block on top
      expect((await intents(handle.db))[0].status).to.equal("sent");

      await network.provider.send("evm_revert", [snapshot]); // a reorganization drops its block
      expect(await stateOf(lock.uetr)).to.equal(0n);
      await s.runOnce(); // no receipt, nonce unused: the stored transaction goes out again
      await eventually(async () => ((await stateOf(lock.uetr)) === 1n ? true : undefined), 10_000, "the lock mined again");
      await network.provider.send("evm_mine", []);
      await s.runOnce();
      expect((await intents(handle.db))[0].status).to.equal("sent"); // one block on top of two
      await network.provider.send("evm_mine", []);
      await s.runOnce();
      expect((await intents(handle.db))[0].status).to.equal("done");
      // The same signed transaction, sent twice: never signed again with another nonce.
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(1);
      expect(await f.escrow.queryFilter(f.escrow.filters.Locked(uetrToBytes16(lock.uetr)))).to.have.length(1);
    });

    it("counts a lock that already exists on chain as done, without a transaction", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      await (await f.escrow.connect(f.banks[0]).lock(lock.request)).wait();
      await submitter().runOnce();
      expect((await intents(handle.db))[0].status).to.equal("done");
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(0);
      expect(await hookCalls(handle.db)).to.have.length(0);
    });

    it("rejects a lock refused on chain with the decoded reason and batches the rest", async function () {
      const good = [];
      for (let k = 0; k < 4; k++) good.push(await enqueueLock(handle.db, k % 4, (k + 1) % 4));
      const tooLarge = await enqueueLock(handle.db, 0, 1, { amount: 200_000_000n }); // cap: 1,000,000.00 GBP
      const s = submitter();
      await s.runOnce();

      const rejected = (await hookCalls(handle.db)).filter((c) => c.hook === "rejected");
      expect(rejected).to.have.length(1);
      expect(rejected[0].uetr).to.equal(tooLarge.uetr);
      expect(rejected[0].reason).to.match(/^SinglePaymentCapExceeded\(0x[0-9a-fA-F]{40}, 0x[0-9a-fA-F]{40}, 200000000, 100000000\)$/);
      const failed = (await intents(handle.db)).find((i) => i.uetr === tooLarge.uetr)!;
      expect(failed.status).to.equal("failed");
      expect(failed.last_error).to.equal(rejected[0].reason);

      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(JSON.parse(txs[0].intent_ids)).to.have.length(4);
      await s.runOnce();
      for (const lock of good) expect(await stateOf(lock.uetr)).to.equal(1n);
      expect(await stateOf(tooLarge.uetr)).to.equal(0n);
    });

    it("releases as the attester (its own transaction is the attestation) and refunds after expiry", async function () {
      const released = await lockedPayment();
      const refunded = await lockedPayment(120);
      const before = await f.tokens.GBP.balanceOf(f.banks[1].address);
      await enqueueChainIntent(handle.db, { kind: "release", uetr: released.uetr, payload: termsToPayload(released.terms) }, clock.t);
      await enqueueChainIntent(handle.db, { kind: "refund", uetr: refunded.uetr, payload: termsToPayload(refunded.terms) }, clock.t);
      const s = submitter();

      await s.runOnce(); // the release goes out; the refund is refused until expiry
      const early = (await intents(handle.db)).find((i) => i.kind === "refund")!;
      expect(early).to.include({ status: "pending", attempts: 1 });
      expect(early.last_error).to.match(/^LockNotExpired\(/);

      await time.increase(300);
      await s.runOnce();
      await s.runOnce();
      expect((await intents(handle.db)).map((i) => [i.kind, i.status])).to.deep.equal([
        ["release", "done"],
        ["refund", "done"],
      ]);
      expect(await stateOf(released.uetr)).to.equal(2n);
      expect(await stateOf(refunded.uetr)).to.equal(3n);
      expect((await f.tokens.GBP.balanceOf(f.banks[1].address)) - before).to.equal(released.terms.amount);
      expect(await hookCalls(handle.db)).to.have.length(0); // only locks are reported as submitted

      // Already released on chain: done without a transaction.
      await handle.db.deleteFrom("chain_intents").execute();
      await enqueueChainIntent(handle.db, { kind: "release", uetr: released.uetr, payload: termsToPayload(released.terms) }, clock.t);
      const sent = (await handle.db.selectFrom("chain_transactions").selectAll().execute()).length;
      await s.runOnce();
      expect((await intents(handle.db))[0].status).to.equal("done");
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(sent);
    });

    async function enqueueTerms(kind: "release" | "refund", payment: { uetr: string; terms: LockTerms }) {
      await enqueueChainIntent(handle.db, { kind, uetr: payment.uetr, payload: termsToPayload(payment.terms) }, clock.t);
    }

    /** The escrow function a stored transaction calls. */
    function calledFunction(raw: string): string {
      return f.escrow.interface.parseTransaction({ data: Transaction.from(raw).data })!.name;
    }

    it("batches many waiting releases into one releaseBatch transaction", async function () {
      const payments = [];
      for (let k = 0; k < 5; k++) payments.push(await lockedPayment());
      for (const payment of payments) await enqueueTerms("release", payment);
      const s = submitter();
      expect(await s.runOnce()).to.equal(5);
      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(JSON.parse(txs[0].intent_ids)).to.have.length(5);
      expect(calledFunction(txs[0].raw)).to.equal("releaseBatch");

      await s.runOnce();
      expect((await intents(handle.db)).map((i) => [i.status, i.tx_hash])).to.deep.equal(Array(5).fill(["done", txs[0].hash]));
      for (const payment of payments) expect(await stateOf(payment.uetr)).to.equal(2n);
      const receipt = await provider.getTransactionReceipt(txs[0].hash);
      expect(receipt!.logs.filter((l) => l.topics[0] === f.escrow.interface.getEvent("Released").topicHash)).to.have.length(5);
    });

    it("batches many expired refunds into one refundBatch transaction", async function () {
      const payments = [];
      for (let k = 0; k < 3; k++) payments.push(await lockedPayment(120));
      for (const payment of payments) await enqueueTerms("refund", payment);
      await time.increase(300);
      const s = submitter();
      await s.runOnce();
      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(calledFunction(txs[0].raw)).to.equal("refundBatch");
      await s.runOnce();
      expect((await intents(handle.db)).map((i) => i.status)).to.deep.equal(Array(3).fill("done"));
      for (const payment of payments) expect(await stateOf(payment.uetr)).to.equal(3n);
    });

    it("releases the rest of a batch when one release is refused, and retries the refused one alone", async function () {
      const good = [];
      for (let k = 0; k < 3; k++) good.push(await lockedPayment());
      const mismatched = await lockedPayment();
      for (const payment of good) await enqueueTerms("release", payment);
      await enqueueTerms("release", { ...mismatched, terms: { ...mismatched.terms, amount: mismatched.terms.amount + 1n } });
      const s = submitter({ retry: { baseMs: 10_000 } });
      await s.runOnce();

      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(JSON.parse(txs[0].intent_ids)).to.have.length(3);
      expect(calledFunction(txs[0].raw)).to.equal("releaseBatch");
      const refused = (await intents(handle.db)).find((i) => i.uetr === mismatched.uetr)!;
      expect(refused).to.include({ status: "pending", attempts: 1, tx_hash: null });
      expect(refused.last_error).to.match(/^TermsMismatch\(/);

      await s.runOnce();
      for (const payment of good) expect(await stateOf(payment.uetr)).to.equal(2n);
      expect(await stateOf(mismatched.uetr)).to.equal(1n);
      expect((await intents(handle.db)).filter((i) => i.status === "done")).to.have.length(3);
    });

    it("counts a release that reaches the chain first elsewhere as done, and batches the rest", async function () {
      const payments = [];
      for (let k = 0; k < 3; k++) payments.push(await lockedPayment());
      for (const payment of payments) await enqueueTerms("release", payment);
      // Released by someone else after the submitter read the states, before its preflight.
      const early = payments[1];
      const racing = new RacingProvider(rpc.url(), 31337, { staticNetwork: true, cacheTimeout: -1 });
      cleanups.push(async () => racing.destroy());
      racing.beforeEstimate = async () => {
        await (await f.escrow.connect(f.admin).release(early.terms, await signRelease(f, f.admin, early.terms))).wait();
      };
      const s = submitter({ provider: racing });
      await s.runOnce();

      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(txs).to.have.length(1);
      expect(JSON.parse(txs[0].intent_ids)).to.have.length(2);
      expect(calledFunction(txs[0].raw)).to.equal("releaseBatch");
      expect((await intents(handle.db)).find((i) => i.uetr === early.uetr)).to.include({ status: "done", tx_hash: null });

      await s.runOnce();
      expect((await intents(handle.db)).map((i) => i.status)).to.deep.equal(["done", "done", "done"]);
      for (const payment of payments) expect(await stateOf(payment.uetr)).to.equal(2n);
    });

    it("survives a crash between storing a release batch and broadcasting it", async function () {
      const payments = [];
      for (let k = 0; k < 4; k++) payments.push(await lockedPayment());
      for (const payment of payments) await enqueueTerms("release", payment);
      await submitter({ provider: crashingProvider(), workerId: "dies" }).runOnce();
      const [stored] = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect((await intents(handle.db)).map((i) => [i.status, i.tx_hash])).to.deep.equal(Array(4).fill(["sent", stored.hash]));
      expect(await provider.getTransaction(stored.hash)).to.equal(null);

      const restarted = submitter({ workerId: "restarted" });
      await restarted.runOnce(); // rebroadcasts the stored batch
      await restarted.runOnce(); // sees it mined
      expect((await intents(handle.db)).map((i) => [i.status, i.tx_hash])).to.deep.equal(Array(4).fill(["done", stored.hash]));
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(1);
      for (const payment of payments) expect(await stateOf(payment.uetr)).to.equal(2n);
    });

    it("lets two submitters share the outbox: each intent in exactly one transaction, nonces unique", async function () {
      // PostgreSQL: two handles (two pools) as two relay processes. SQLite: one handle, because
      // better-sqlite3 blocks the event loop while it waits for a lock held by a second handle.
      const second = dialect === "postgres" ? await openSecondHandle(handle) : handle;
      if (second !== handle) cleanups.push(() => second.close());
      const uetrs = [];
      for (let k = 0; k < 30; k++) uetrs.push((await enqueueLock(handle.db, k % 4, (k + 1) % 4)).uetr);
      const a = submitter({ workerId: "worker-a", batchSize: 4, payments: recorder(":a") });
      const b = submitter({ workerId: "worker-b", batchSize: 4, payments: recorder(":b"), db: second.db });

      await network.provider.send("evm_setAutomine", [false]);
      for (let round = 0; round < 30; round++) {
        await Promise.all([a.runOnce(), b.runOnce()]);
        await network.provider.send("evm_mine", []);
        const open = await handle.db.selectFrom("chain_intents").select("id").where("status", "in", ["pending", "sent"]).execute();
        if (open.length === 0) break;
      }

      expect((await intents(handle.db)).every((i) => i.status === "done")).to.equal(true);
      const txs = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      const ids = txs.flatMap((t) => JSON.parse(t.intent_ids) as string[]);
      expect(ids).to.have.length(30);
      expect(new Set(ids).size).to.equal(30);
      expect(new Set(txs.map((t) => `${t.signer}:${t.nonce}`)).size).to.equal(txs.length);
      const calls = await hookCalls(handle.db);
      expect(calls.map((c) => c.uetr).sort()).to.deep.equal([...uetrs].sort());
      expect(calls.some((c) => c.hook === "submitted:a")).to.equal(true);
      expect(calls.some((c) => c.hook === "submitted:b")).to.equal(true);
      for (const uetr of uetrs) expect(await stateOf(uetr)).to.equal(1n);
    });

    it("survives a crash after storing the signed transaction and before broadcasting it", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      await submitter({ provider: crashingProvider(), workerId: "dies" }).runOnce();

      const [stored] = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect((await intents(handle.db))[0]).to.include({ status: "sent", tx_hash: stored.hash });
      expect(await provider.getTransactionCount(f.operator.address, "latest")).to.equal(Number(stored.nonce));
      expect(await provider.getTransaction(stored.hash)).to.equal(null);

      const restarted = submitter({ workerId: "restarted" });
      await restarted.runOnce(); // rebroadcasts the stored raw transaction
      await restarted.runOnce(); // sees it mined
      expect((await intents(handle.db))[0]).to.include({ status: "done", tx_hash: stored.hash });
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(1);
      expect(await provider.getTransactionCount(f.operator.address, "latest")).to.equal(Number(stored.nonce) + 1);
      expect(await stateOf(lock.uetr)).to.equal(1n);
      expect((await hookCalls(handle.db)).map((c) => c.hook)).to.deep.equal(["submitted"]);
    });

    it("resends intents whose stored nonce was taken by another transaction of the same key", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      await submitter({ provider: crashingProvider() }).runOnce();
      const [stored] = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      // The key is used outside the relay, with the nonce the crashed relay had stored.
      await (await f.operator.connect(provider).sendTransaction({ to: f.operator.address, nonce: Number(stored.nonce) })).wait();

      const s = submitter();
      await s.runOnce(); // superseded: requeued and sent again with the next nonce
      await s.runOnce();
      const txs = await handle.db.selectFrom("chain_transactions").selectAll().orderBy("nonce").execute();
      expect(txs.map((t) => Number(t.nonce))).to.deep.equal([Number(stored.nonce), Number(stored.nonce) + 1]);
      expect((await intents(handle.db))[0]).to.include({ status: "done", tx_hash: txs[1].hash });
      expect(await stateOf(lock.uetr)).to.equal(1n);
    });

    it("rolls back the nonce, the stored transaction and the intent's state together", async function () {
      await enqueueLock(handle.db, 0, 1);
      const failing = { ...recorder(), markSubmitted: () => Promise.reject(new Error("crash inside the transaction")) };
      const error = await submitter({ payments: failing }).runOnce().catch((e: unknown) => e);
      expect((error as Error).name).to.equal("SubmitterRunError");
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(0);
      expect((await intents(handle.db))[0]).to.include({ status: "pending", lease_owner: null, attempts: 1 });
      const chainNonce = await provider.getTransactionCount(f.operator.address, "pending");
      const row = await handle.db.selectFrom("signer_nonces").selectAll().executeTakeFirstOrThrow();
      expect(Number(row.next_nonce)).to.equal(chainNonce);

      const s = submitter();
      await s.runOnce();
      await s.runOnce();
      expect((await intents(handle.db))[0].status).to.equal("done");
      const [tx] = await handle.db.selectFrom("chain_transactions").selectAll().execute();
      expect(Number(tx.nonce)).to.equal(chainNonce);
    });

    it("takes over intents whose lease expired with a dead worker", async function () {
      await enqueueLock(handle.db, 0, 1);
      await handle.db.updateTable("chain_intents").set({ lease_owner: "dead/1", lease_until: clock.t + 30_000 }).execute();
      const s = submitter();
      expect(await s.runOnce()).to.equal(0);
      clock.t += 30_001;
      expect(await s.runOnce()).to.equal(1);
      expect((await intents(handle.db))[0].status).to.equal("sent");
    });

    it("fails cleanly while the node is unreachable and sends once it is back", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      const down = new JsonRpcProvider("http://127.0.0.1:1", 31337, { staticNetwork: true });
      cleanups.push(async () => down.destroy());
      const error = await submitter({ provider: down }).runOnce().catch((e: unknown) => e);
      expect((error as Error).name).to.equal("SubmitterRunError");
      expect((await intents(handle.db))[0]).to.include({ status: "pending", lease_owner: null });
      const s = submitter();
      await s.runOnce();
      await s.runOnce();
      expect(await stateOf(lock.uetr)).to.equal(1n);
    });

    it("replaces a stuck transaction with bumped fees and keeps every attempt", async function () {
      const lock = await enqueueLock(handle.db, 0, 1);
      await network.provider.send("evm_setAutomine", [false]);
      const s = submitter();
      await s.runOnce();
      await s.runOnce(); // not stuck yet: rebroadcast only
      expect(await handle.db.selectFrom("chain_transactions").selectAll().execute()).to.have.length(1);

      clock.t += STUCK_AFTER_MS;
      await s.runOnce();
      const [first, second] = await handle.db.selectFrom("chain_transactions").selectAll().orderBy("sent_at").execute();
      expect(second).to.not.equal(undefined);
      expect(second.nonce).to.equal(first.nonce);
      expect(BigInt(second.max_fee_per_gas) * 10n).to.be.gte(BigInt(first.max_fee_per_gas) * 11n);
      expect(BigInt(second.max_priority_fee_per_gas) * 10n).to.be.gte(BigInt(first.max_priority_fee_per_gas) * 11n);
      expect((await intents(handle.db))[0].tx_hash).to.equal(second.hash);

      await network.provider.send("evm_mine", []);
      await s.runOnce();
      expect((await intents(handle.db))[0]).to.include({ status: "done", tx_hash: second.hash });
      expect(await provider.getTransactionReceipt(first.hash)).to.equal(null);
      expect(await stateOf(lock.uetr)).to.equal(1n);
    });

    it("requeues intents whose mined transaction reverted, with the decoded reason", async function () {
      const payment = await lockedPayment();
      await enqueueChainIntent(handle.db, { kind: "release", uetr: payment.uetr, payload: termsToPayload(payment.terms) }, clock.t);
      const lock = await enqueueLock(handle.db, 2, 3);
      await network.provider.send("evm_setAutomine", [false]);
      const s = submitter({ retry: { baseMs: 10_000 } });
      await s.runOnce();
      // Our lock and release reach the mempool (a run does not wait for its broadcasts).
      const ours = await handle.db.selectFrom("chain_transactions").select("hash").execute();
      const inPool = async () => (await Promise.all(ours.map((t) => provider.getTransaction(t.hash)))).every(Boolean);
      await eventually(async () => ((await inPool()) ? true : undefined), 30_000, "our transactions in the mempool");
      // Someone else gets there first in the same block, paying more.
      const priority = { maxPriorityFeePerGas: parseUnits("100", "gwei"), maxFeePerGas: parseUnits("200", "gwei") };
      await f.escrow.connect(f.admin).release(payment.terms, await signRelease(f, f.admin, payment.terms), priority);
      await f.escrow.connect(f.banks[2]).lock(lock.request, priority);
      await network.provider.send("evm_mine", []);

      await s.runOnce();
      const requeued = await intents(handle.db);
      expect(requeued.map((i) => i.status)).to.deep.equal(["pending", "pending"]);
      expect(requeued.find((i) => i.kind === "release")!.last_error).to.match(/^reverted on chain: PaymentAlreadyReleased\(/);
      expect(requeued.find((i) => i.kind === "lock")!.last_error).to.match(/^reverted on chain: PaymentAlreadyExists\(/);

      clock.t += 10_000;
      await s.runOnce(); // the queue's checks now see both done on chain
      expect((await intents(handle.db)).map((i) => i.status)).to.deep.equal(["done", "done"]);
      expect((await hookCalls(handle.db)).filter((c) => c.hook === "rejected")).to.have.length(0);
    });
  });
});

/** Dies (from the relay's point of view) between storing a signed transaction and sending it. */
class CrashingProvider extends JsonRpcProvider {
  override async broadcastTransaction(): Promise<never> {
    throw new Error("simulated crash before eth_sendRawTransaction");
  }
}

/** Runs `beforeEstimate` once, before the first eth_estimateGas: a change of chain state mid-run. */
class RacingProvider extends JsonRpcProvider {
  beforeEstimate: (() => Promise<void>) | undefined;

  override async estimateGas(tx: TransactionRequest): Promise<bigint> {
    const hook = this.beforeEstimate;
    this.beforeEstimate = undefined;
    await hook?.();
    return super.estimateGas(tx);
  }
}

/** A second connection pool on the same PostgreSQL schema, as a second relay process would have. */
async function openSecondHandle(first: DatabaseHandle): Promise<DatabaseHandle> {
  const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(first.db)).rows[0].s;
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return openDatabase(url.toString());
}
