import { expect } from "chai";
import { randomUUID } from "node:crypto";
import hre, { network } from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { JsonRpcProvider, ZeroAddress, getAddress, hexlify, randomBytes } from "ethers";
import { sql } from "kysely";
import type { JsonRpcServer } from "hardhat/types";
import type { DatabaseHandle, Db, Dialect } from "../../server/db/database";
import type { ChainObservation } from "../../server/payments/types";
import { ZERO_BYTES16, ZERO_BYTES32, bytes16ToUetr, uetrToBytes16, type LockTerms } from "../../server/chain/typed-data";
import { createChainIndexer, type ChainEventHooks, type ChainIndexerDeps } from "../../server/chain/indexer";
import { decodeStaticEventArgs } from "../../server/chain/event-rows";
import { connectCorridor, decodeRevert, escrowInterface } from "../../server/chain/contracts";
import { deployCorridorFixture, signRelease, type CorridorFixture } from "../contracts/fixtures";
import { forEachDialect, openTestDatabase } from "./databases";
import { eventually } from "../support/eventually";

type HookName = keyof ChainEventHooks;
const HOOKS: HookName[] = ["onLocked", "onReleased", "onRefunded", "unapplyLocked", "unapplyReleased", "unapplyRefunded"];

/** Records every hook call in the caller's transaction, so a rolled-back apply leaves no record. */
function recorder(failOn?: { hook: HookName; uetr: string }): ChainEventHooks {
  const hooks = {} as Record<HookName, (db: Db, o: ChainObservation) => Promise<boolean>>;
  for (const hook of HOOKS) {
    hooks[hook] = async (db, o) => {
      await sql`insert into test_hook_calls values (${hook}, ${o.uetr}, ${o.txHash}, ${o.blockNumber})`.execute(db);
      if (failOn?.hook === hook && failOn.uetr === o.uetr) throw new Error("simulated crash inside the hook");
      return true;
    };
  }
  return hooks;
}

async function hookCalls(db: Db): Promise<{ hook: string; uetr: string; tx_hash: string; block_number: number }[]> {
  const rows = await sql<{ hook: string; uetr: string; tx_hash: string; block_number: number }>`select * from test_hook_calls`.execute(db);
  return rows.rows.map((r) => ({ ...r, block_number: Number(r.block_number) }));
}

/**
 * Mines blocks one by one. (Hardhat's `hardhat_mine`, behind the `mine` helper, reserves blocks
 * whose parent hashes do not always link up after time travel; the indexer rightly refuses them.)
 */
async function mine(blocks: number): Promise<void> {
  for (let k = 0; k < blocks; k++) await network.provider.send("evm_mine", []);
}

const calls = async (db: Db) => (await hookCalls(db)).map((c) => `${c.hook} ${c.uetr}`);

describe("chain indexer", function () {
  let server: JsonRpcServer;
  let port: number;

  before(async function () {
    server = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: network.provider });
    port = (await server.listen()).port;
  });
  after(async () => server.close());

  it("turns the escrow's bytes16 payment id into the payment's UETR", function () {
    const uetr = randomUUID();
    expect(bytes16ToUetr(uetrToBytes16(uetr))).to.equal(uetr);
  });

  it("decodes the escrow's events exactly as ethers' general decoder does, and refuses a short log", function () {
    const word = (bytes: number) => hexlify(randomBytes(bytes));
    for (let k = 0; k < 50; k++) {
      const values: Record<string, unknown[]> = {
        Locked: [word(16), getAddress(word(20)), getAddress(word(20)), getAddress(word(20)), BigInt(word(32)), BigInt(word(8)), word(32), word(16)],
        Released: [word(16), getAddress(word(20))],
        Refunded: [word(16), getAddress(word(20))],
      };
      for (const [name, args] of Object.entries(values)) {
        const fragment = escrowInterface.getEvent(name)!;
        const log = escrowInterface.encodeEventLog(fragment, args);
        const expected = escrowInterface.decodeEventLog(fragment, log.data, log.topics);
        expect(decodeStaticEventArgs(fragment, log)).to.deep.equal(Object.fromEntries(fragment.inputs.map((input, i) => [input.name, String(expected[i])])));
      }
    }
    const locked = escrowInterface.getEvent("Locked")!;
    const log = escrowInterface.encodeEventLog(locked, [word(16), ZeroAddress, ZeroAddress, ZeroAddress, 1n, 2n, word(32), word(16)]);
    expect(() => decodeStaticEventArgs(locked, { topics: log.topics, data: log.data.slice(0, -64) })).to.throw(/too short for linkedUetr/);
  });

  it("connects contracts from a deployment record and decodes reverts of every contract", async function () {
    const f = await loadFixture(deployCorridorFixture);
    const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, 31337, { staticNetwork: true, cacheTimeout: -1 });
    const at = (contract: { target: unknown }) => contract.target as string;
    const contracts = {
      ParticipantRegistry: at(f.registry),
      SettlementEscrow: at(f.escrow),
      NettingSettlement: at(f.netting),
      tokens: { GBP: at(f.tokens.GBP) },
    };
    const record = { chainId: "31337", deployBlock: 0, deployedAt: new Date().toISOString(), contracts, roles: {} };
    const connected = connectCorridor(record, provider);
    expect(await connected.escrow.paymentState(uetrToBytes16(randomUUID()))).to.equal(0n);
    expect(await connected.tokens.GBP.currency()).to.equal("GBP");
    const error = await connected.registry.checkActiveBank(f.outsider.address).catch((e: unknown) => e);
    expect(decodeRevert(error)?.reason).to.equal(`ParticipantUnknown(${f.outsider.address})`);
    expect(decodeRevert(new Error("connect ECONNREFUSED"))).to.equal(null);
    provider.destroy();
  });

  forEachDialect("chain indexer", (dialect: Dialect) => {
    let f: CorridorFixture;
    let handle: DatabaseHandle;
    let provider: JsonRpcProvider;

    let opened: DatabaseHandle | null = null;

    beforeEach(async function () {
      f = await loadFixture(deployCorridorFixture);
      // A standard JSON-RPC client, as against any node; cacheTimeout -1 so no answer is reused.
      provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, 31337, { staticNetwork: true, cacheTimeout: -1 });
      handle = opened = await openTestDatabase(dialect);
      await sql`create table test_hook_calls (hook text not null, uetr text not null, tx_hash text not null, block_number bigint not null)`.execute(
        handle.db,
      );
    });

    afterEach(async function () {
      provider.destroy();
      await opened?.close(); // only a handle this test opened (its beforeEach may have failed)
      opened = null;
    });

    function indexer(overrides: Partial<ChainIndexerDeps> = {}) {
      return createChainIndexer({
        db: handle.db,
        dialect,
        provider,
        escrowAddress: f.escrow.target as string,
        fromBlock: 0,
        confirmations: 0,
        payments: recorder(),
        batchBlocks: 7, // small, so that ranges and their checkpoints are exercised
        ...overrides,
      });
    }

    /** A payment its bank locks directly on the escrow. */
    async function lock(expiresIn = 3600): Promise<{ uetr: string; terms: LockTerms; block: number }> {
      const uetr = randomUUID();
      const request = {
        uetr: uetrToBytes16(uetr),
        payee: f.banks[1].address,
        token: f.tokens.GBP.target as string,
        amount: 10_000n,
        expiry: BigInt((await time.latest()) + expiresIn),
        hashlock: ZERO_BYTES32,
        linkedUetr: ZERO_BYTES16,
      };
      const receipt = await (await f.escrow.connect(f.banks[0]).lock(request)).wait();
      return { uetr, terms: { ...request, payer: f.banks[0].address }, block: receipt!.blockNumber };
    }

    async function release(payment: { terms: LockTerms }): Promise<void> {
      await (await f.escrow.connect(f.admin).release(payment.terms, await signRelease(f, f.admin, payment.terms))).wait();
    }

    async function refund(payment: { terms: LockTerms }): Promise<void> {
      await (await f.escrow.connect(f.admin).refund(payment.terms)).wait();
    }

    async function storedHeadersMatchChain(): Promise<boolean> {
      const rows = await handle.db.selectFrom("indexer_blocks").selectAll().execute();
      const blocks = await Promise.all(rows.map((r) => provider.getBlock(Number(r.number))));
      return rows.every((r, k) => blocks[k]?.hash === r.hash);
    }

    it("applies an event only once it has the confirmation depth", async function () {
      const ix = indexer({ confirmations: 3 });
      const payment = await lock();
      expect(await ix.runOnce()).to.equal(0);
      await mine(2);
      expect(await ix.runOnce()).to.equal(0);
      expect(await calls(handle.db)).to.deep.equal([]);
      await mine(1);
      expect(await ix.runOnce()).to.equal(1);
      expect(await hookCalls(handle.db)).to.deep.include({
        hook: "onLocked",
        uetr: payment.uetr,
        tx_hash: (await handle.db.selectFrom("chain_events").select("tx_hash").executeTakeFirstOrThrow()).tx_hash,
        block_number: payment.block,
      });
      expect(await ix.head()).to.deep.equal({ indexed: payment.block, lag: 3 });
    });

    it("applies each event exactly once across restarts and crashes", async function () {
      const a = await lock();
      const b = await lock(60);
      await release(a);
      await time.increase(120);
      await refund(b);
      expect(await indexer().runOnce()).to.equal(4);
      expect(await calls(handle.db)).to.have.members([`onLocked ${a.uetr}`, `onLocked ${b.uetr}`, `onReleased ${a.uetr}`, `onRefunded ${b.uetr}`]);

      // A new process resumes from the checkpoint: nothing is applied twice.
      expect(await indexer().runOnce()).to.equal(0);
      const c = await lock();
      const d = await lock();
      await mine(10);

      // A crash in the middle of applying a range: the whole range is rolled back.
      const crashing = indexer({ payments: recorder({ hook: "onLocked", uetr: d.uetr }) });
      const error = await crashing.runOnce().catch((e: unknown) => e);
      expect((error as Error).message).to.equal("simulated crash inside the hook");
      expect(await calls(handle.db)).to.not.include(`onLocked ${d.uetr}`);
      const eventsBefore = (await handle.db.selectFrom("chain_events").selectAll().execute()).length;

      expect(await indexer().runOnce()).to.equal(6 - eventsBefore);
      const all = await calls(handle.db);
      expect(all).to.have.length(6);
      expect(new Set(all).size).to.equal(6);
      expect(all).to.include.members([`onLocked ${c.uetr}`, `onLocked ${d.uetr}`]);
      expect(await handle.db.selectFrom("chain_events").selectAll().execute()).to.have.length(6);
      expect(await storedHeadersMatchChain()).to.equal(true);
    });

    it("rolls back the events of orphaned blocks after a reorganization and applies the new ones", async function () {
      const kept = await lock();
      const ix = indexer();
      expect(await ix.runOnce()).to.equal(1);

      const snapshot = await network.provider.send("evm_snapshot", []);
      const orphanB = await lock();
      const orphanC = await lock();
      await release(orphanB);
      expect(await ix.runOnce()).to.equal(3);

      await network.provider.send("evm_revert", [snapshot]);
      const replacement = await lock();
      await mine(5); // the new branch is longer than the old one
      expect(await ix.runOnce()).to.equal(1);

      const after = await calls(handle.db);
      // Newest first: the release is undone before the lock it released.
      expect(after.slice(4)).to.deep.equal([
        `unapplyReleased ${orphanB.uetr}`,
        `unapplyLocked ${orphanC.uetr}`,
        `unapplyLocked ${orphanB.uetr}`,
        `onLocked ${replacement.uetr}`,
      ]);
      const events = await handle.db.selectFrom("chain_events").select(["uetr", "name"]).orderBy("block_number").execute();
      expect(events).to.deep.equal([
        { uetr: kept.uetr, name: "Locked" },
        { uetr: replacement.uetr, name: "Locked" },
      ]);
      expect(await storedHeadersMatchChain()).to.equal(true);
      expect(await ix.runOnce()).to.equal(0);
    });

    it("keeps indexing on an interval until stopped", async function () {
      // From the head: scanning the shared chain's history in 7-block ranges takes seconds.
      const ix = indexer({ fromBlock: await hre.ethers.provider.getBlockNumber() });
      ix.start(10);
      try {
        const payment = await lock();
        const recorded = await eventually(async () => ((await calls(handle.db)).length > 0 ? calls(handle.db) : undefined), 30_000, "the indexer's first run");
        expect(recorded).to.deep.equal([`onLocked ${payment.uetr}`]);
      } finally {
        await ix.stop(); // waits for a run in progress, so the database can be closed next
      }
    });

    it("fails cleanly while the node is unreachable and applies everything once it is back", async function () {
      const payments = [await lock(), await lock()];
      const ix = indexer();
      await server.close(); // the node goes away
      try {
        for (let k = 0; k < 2; k++) {
          const error = await ix.runOnce().catch((e: unknown) => e);
          expect((error as Error).name).to.equal("ChainRpcError");
        }
        expect(await handle.db.selectFrom("indexer_blocks").selectAll().execute()).to.have.length(0);
      } finally {
        server = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port, provider: network.provider });
        await server.listen(); // back on the same address
      }
      expect(await ix.runOnce()).to.equal(2);
      expect(await calls(handle.db)).to.have.members(payments.map((p) => `onLocked ${p.uetr}`));
      expect((await ix.head()).lag).to.equal(0);
    });
  });
});
