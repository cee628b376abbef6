import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { expect } from "chai";
import hre, { network } from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { JsonRpcServer } from "hardhat/types";
import pino from "pino";
import { account, apiClient, deploymentOf, eventCounts, OPERATOR_KEY, startRelayWorld, startRpcServer, type Api, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { sqliteTestUrl } from "../server/databases";
import { TEST_BANKS } from "../contracts/fixtures";
import { provisionDemoRelay } from "../../scripts/lib/demo-relay";
import { loadConfig } from "../../server/config/env";
import { startRelay, type Relay } from "../../server/relay";
import { uetrToBytes16 } from "../../server/chain/typed-data";

/**
 * The relay under faults, end to end over HTTP on SQLite: its JSON-RPC node goes away for 10 s,
 * the chain reorganizes below the confirmation depth, a client exceeds its rate limit.
 */
describe("relay under faults (HTTP API, in-process chain, SQLite)", function () {
  this.timeout(180_000);

  describe("the RPC node is unreachable for 10 s", () => {
    let rpc: { url: string; port: number; server: JsonRpcServer | null };
    let world: RelayWorld;

    before(async () => {
      const started = await startRpcServer();
      rpc = { ...started, port: Number(new URL(started.url).port) };
      world = await startRelayWorld({ env: { AUTO_RELEASE: "true" }, rpcUrl: rpc.url });
    });
    after(async () => {
      await world?.stop();
      await rpc?.server?.close();
    });

    it("keeps taking payments, reports rpc not ready, and settles everything once the node is back", async () => {
      const { api } = world;
      const gbp = world.fixture.tokens.GBP;
      const [alice, bob] = world.fixture.banks;
      const before = [await gbp.balanceOf(alice), await gbp.balanceOf(bob)];
      const ready = await api("GET", "/readyz");
      expect([ready.status, ready.body.checks]).to.deep.equal([200, { database: { ok: true }, rpc: { ok: true } }]);

      const pay = async () => {
        const res = await api("POST", "/v1/payments", { key: world.keys.banks[world.bic(0)], idempotencyKey: randomUUID(), body: paymentBody(world, "10000") });
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
        return res.body.uetr as string;
      };

      // Some payments before the outage; the first is on chain, the others in flight.
      const early = [await pay()];
      await reaches(api, world.keys.banks[world.bic(0)], early[0], "LOCKED");
      for (let k = 0; k < 4; k++) early.push(await pay());

      await closeRpc(rpc);
      const outageStart = Date.now();
      // (The provider may answer from its 250 ms request cache just after the node went away.)
      await eventually(async () => ((await api("GET", "/readyz")).status === 503 ? true : undefined), 3_000, "not ready");
      const during: string[] = [];
      let sawNotReady = false;
      while (Date.now() - outageStart < 10_000) {
        during.push(await pay()); // intake does not need the chain
        const probe = await api("GET", "/readyz");
        expect(probe.status).to.equal(503);
        expect(probe.body.status).to.equal("not_ready");
        expect(probe.body.checks.database).to.deep.equal({ ok: true });
        expect(probe.body.checks.rpc.ok).to.equal(false);
        expect(probe.body.checks.rpc.error).to.be.a("string");
        sawNotReady = true;
        await sleep(1_000);
      }
      expect(sawNotReady).to.equal(true);
      expect(during.length).to.be.at.least(8);
      // Nothing accepted during the outage reached the chain: the relay could not even ask it.
      const { db } = world.relay.database;
      const stuck = await db.selectFrom("payments").select("status").where("uetr", "in", during).execute();
      expect(stuck.map((p) => p.status)).to.deep.equal(during.map(() => "RECEIVED"));

      await reopenRpc(rpc);
      const outageMs = Date.now() - outageStart;
      await eventually(async () => ((await api("GET", "/readyz")).status === 200 ? true : undefined), 10_000, "ready again");

      const all = [...early, ...during];
      const recovery = Date.now();
      await eventually(
        async () => {
          const rows = await db.selectFrom("payments").select("status").where("uetr", "in", all).execute();
          return rows.length === all.length && rows.every((r) => r.status === "SETTLED") ? true : undefined;
        },
        90_000,
        `${all.length} payments SETTLED after the outage`,
      );
      console.log(`      outage ${outageMs} ms; ${all.length} payments (${during.length} taken during the outage) settled ${Date.now() - recovery} ms after the node came back`);

      // Nothing lost, nothing doubled: one lock and one release each, funds moved exactly once.
      const locked = await eventCounts(world.fixture, "Locked");
      const released = await eventCounts(world.fixture, "Released");
      expect(Object.keys(locked)).to.have.members(all);
      expect(Object.keys(released)).to.have.members(all);
      expect(Object.values(locked).every((n) => n === 1) && Object.values(released).every((n) => n === 1)).to.equal(true);
      const total = 10_000n * BigInt(all.length);
      expect(await gbp.balanceOf(alice)).to.equal(before[0] - total);
      expect(await gbp.balanceOf(bob)).to.equal(before[1] + total);
      for (const i of [0, 1]) {
        const acc = await account(api, world.keys.banks[world.bic(i)], "GBP");
        expect(acc.posted).to.equal(acc.onChain);
        expect(acc.pendingDebits).to.equal("0");
      }
      const history = (await api("GET", `/v1/payments/${during[0]}`, { key: world.keys.banks[world.bic(0)] })).body.history as { status: string }[];
      expect(history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);
      const failed = await db.selectFrom("chain_intents").select("id").where("status", "=", "failed").execute();
      expect(failed).to.deep.equal([]);
    });
  });

  describe("a chain reorganization below the confirmation depth", () => {
    let world: RelayWorld;

    before(async () => {
      world = await startRelayWorld({ env: { CONFIRMATIONS: "1" } }); // AUTO_RELEASE off: the creditor confirms
    });
    after(async () => {
      await world?.stop(); // interval mining back to 0
    });

    it("rolls a confirmed lock back (status and ledger) and the relay locks the payment again", async () => {
      const { api, fixture } = world;
      const { db } = world.relay.database;
      const A = world.keys.banks[world.bic(0)];
      const B = world.keys.banks[world.bic(1)];
      const gbp = fixture.tokens.GBP;
      const [alice, bob] = fixture.banks;
      const chainBefore = [await gbp.balanceOf(alice), await gbp.balanceOf(bob)];
      const ledgerBefore = await account(api, A, "GBP");
      await network.provider.send("evm_setIntervalMining", [0]); // blocks only when we say (and automined transactions)
      try {
        const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
        const forkBlock = Number(await network.provider.send("eth_blockNumber", []));

        // A payment locked in the next block, then confirmed (depth 1) by one empty block.
        const created = await api("POST", "/v1/payments", { key: A, idempotencyKey: randomUUID(), body: paymentBody(world, "10000") });
        expect(created.status, JSON.stringify(created.body)).to.equal(201);
        const uetr = created.body.uetr as string;
        await eventually(async () => ((await fixture.escrow.paymentState(uetrToBytes16(uetr))) === 1n ? true : undefined), 10_000, "lock mined");
        await mine(1);
        const locked = await reaches(api, A, uetr, "LOCKED");
        const lockBlock = locked.history.find((h) => h.status === "LOCKED")!.blockNumber!;
        expect(lockBlock).to.equal(forkBlock + 1);
        expect((await account(api, A, "GBP")).pendingDebits).to.equal((BigInt(ledgerBefore.pendingDebits) + 10_000n).toString());
        // The submitter has seen the receipt too: as far as the outbox knows, the lock is done.
        const lockIntent = () => db.selectFrom("chain_intents").select(["status", "tx_hash"]).where("uetr", "=", uetr).where("kind", "=", "lock").executeTakeFirstOrThrow();
        await eventually(async () => ((await lockIntent()).status === "done" ? true : undefined), 10_000, "lock intent done");
        expect((await lockIntent()).tx_hash).to.equal(locked.history.find((h) => h.status === "LOCKED")!.txHash);

        // The blocks since the snapshot are dropped and a longer branch without the lock replaces them.
        await world.relay.submitter.stop(); // so that we can look at the rolled-back state first
        // The relay's provider answers repeated requests from a 250 ms cache: let the receipt the
        // submitter just read expire, or its first check after the reorg would still see it.
        await sleep(500);
        const oldHead = Number(await network.provider.send("eth_blockNumber", []));
        await network.provider.send("evm_revert", [snapshot]);
        expect(await fixture.escrow.paymentState(uetrToBytes16(uetr))).to.equal(0n);
        await mine(oldHead - forkBlock + 2);

        const rolledBack = await eventually(
          async () => {
            const got = await statusOf(api, A, uetr);
            return got.status !== "LOCKED" ? got : undefined;
          },
          15_000,
          "the lock rolled back",
        );
        expect(rolledBack.status).to.equal("SUBMITTED");
        const last = rolledBack.history[rolledBack.history.length - 1];
        expect(last.reason).to.equal(`lock in block ${lockBlock} rolled back by a chain reorganization`);
        const undone = await account(api, A, "GBP");
        expect(undone.pendingDebits, "the ledger's pending lock is voided").to.equal(ledgerBefore.pendingDebits);
        expect(undone.available).to.equal(ledgerBefore.available);
        expect((await world.relay.ledger.transfersOf(db, uetr)).map((t) => t.id)).to.deep.equal([`${uetr}:lock`, `${uetr}:reorg:1:unlock`]);
        expect(await db.selectFrom("chain_events").select("id").where("uetr", "=", uetr).execute()).to.deep.equal([]);

        // The relay's lock transaction is no longer on the chain: the relay must send it again.
        world.relay.submitter.start(100);
        await network.provider.send("evm_setIntervalMining", [1_000]);
        const relocked = await reaches(api, A, uetr, "LOCKED", 30_000);
        expect(relocked.history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SUBMITTED", "LOCKED"]);
        // It rebroadcast the stored transaction (same nonce, same hash) rather than signing another.
        expect(relocked.history[4].txHash).to.equal(relocked.history[2].txHash);
        expect(relocked.history[4].blockNumber).to.be.greaterThan(forkBlock);
        expect(await db.selectFrom("chain_transactions").select("hash").where("hash", "=", relocked.history[2].txHash!).execute()).to.have.length(1);
        expect(await fixture.escrow.paymentState(uetrToBytes16(uetr))).to.equal(1n);
        expect((await account(api, A, "GBP")).pendingDebits).to.equal((BigInt(ledgerBefore.pendingDebits) + 10_000n).toString());

        // Later transactions of the operator are not stuck behind the dropped one (its nonce).
        const next = await api("POST", "/v1/payments", { key: A, idempotencyKey: randomUUID(), body: paymentBody(world, "20000") });
        expect(next.status, JSON.stringify(next.body)).to.equal(201);
        await reaches(api, A, next.body.uetr, "LOCKED", 30_000);

        // Both settle; chain and ledger agree.
        for (const u of [uetr, next.body.uetr as string]) {
          const confirmed = await api("POST", `/v1/payments/${u}/confirm`, { key: B, idempotencyKey: randomUUID() });
          expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(200);
          await reaches(api, A, u, "SETTLED", 30_000);
        }
        expect(await eventCounts(fixture, "Locked")).to.deep.equal({ [uetr]: 1, [next.body.uetr]: 1 });
        expect(await eventCounts(fixture, "Released")).to.deep.equal({ [uetr]: 1, [next.body.uetr]: 1 });
        expect(await gbp.balanceOf(alice)).to.equal(chainBefore[0] - 30_000n);
        expect(await gbp.balanceOf(bob)).to.equal(chainBefore[1] + 30_000n);
        expect((await world.relay.ledger.transfersOf(db, uetr)).map((t) => t.id)).to.deep.equal([
          `${uetr}:lock`,
          `${uetr}:reorg:1:unlock`,
          `${uetr}:reorg:1:lock`,
          `${uetr}:reorg:1:release`,
        ]);
        for (const key of [A, B]) {
          const acc = await account(api, key, "GBP");
          expect(acc.posted).to.equal(acc.onChain);
          expect(acc.pendingDebits).to.equal("0");
        }
      } finally {
        world.relay.submitter.start(100);
        await network.provider.send("evm_setIntervalMining", [1_000]);
      }
    });
  });

  describe("rate limit", () => {
    let world: RelayWorld;
    let limited: Relay | undefined;

    before(async () => {
      world = await startRelayWorld();
    });
    after(async () => {
      await limited?.stop();
      await world?.stop();
    });

    it("answers 429 too_many_requests with the JSON error body, and changes nothing", async () => {
      // A relay with a budget of 3 requests a minute per API key, on the same chain.
      limited = await startRelay(
        loadConfig({ PORT: "0", DATABASE_URL: sqliteTestUrl(), RPC_URL: world.rpcUrl, OPERATOR_PRIVATE_KEY: OPERATOR_KEY, LOG_LEVEL: "silent" }),
        { deployment: await deploymentOf(world.fixture), logger: pino({ level: "silent" }), rateLimitPerMinute: 3, now: world.now },
      );
      const keys = await provisionDemoRelay(limited, world.fixture, world.fixture.banks.map((signer, i) => ({ signer, bank: TEST_BANKS[i] })));
      const api = apiClient(limited.url);
      const A = keys.banks[TEST_BANKS[0].bic];
      const B = keys.banks[TEST_BANKS[1].bic];
      const { db } = limited.database;
      const counts = async () =>
        Promise.all(
          (["payments", "chain_intents", "idempotency_keys", "ledger_transfers", "webhook_deliveries"] as const).map(
            async (table) => Number((await db.selectFrom(table).select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n),
          ),
        );
      const before = await counts();

      for (let k = 0; k < 3; k++) expect((await api("GET", "/v1/payments", { key: A })).status).to.equal(200);
      const refused = await api("POST", "/v1/payments", {
        key: A,
        idempotencyKey: randomUUID(),
        body: { ...paymentBody(world, "10000"), debtorAgent: { bic: TEST_BANKS[0].bic }, creditorAgent: { bic: TEST_BANKS[1].bic } },
      });
      expect(refused.status).to.equal(429);
      expect(refused.headers.get("content-type")).to.match(/^application\/json/);
      expect(refused.body.error.code).to.equal("too_many_requests");
      expect(refused.body.error.message).to.be.a("string").and.not.equal("");
      expect(refused.headers.get("ratelimit-policy")).to.match(/^3;w=60/);
      expect((await api("GET", "/v1/payments", { key: A })).status).to.equal(429);
      expect(await counts()).to.deep.equal(before);

      // The budget is per API key, and the unversioned system routes are not limited.
      expect((await api("GET", "/v1/payments", { key: B })).status).to.equal(200);
      expect((await api("GET", "/healthz")).status).to.equal(200);
    });
  });
});

function paymentBody(world: RelayWorld, value: string) {
  return {
    endToEndId: `E2E-${randomUUID().slice(0, 8)}`,
    debtorAgent: { bic: world.bic(0) },
    creditorAgent: { bic: world.bic(1) },
    amount: { value, currency: "GBP" },
    // Far beyond the chain's lead over the wall clock (each block adds at least 1 s).
    expiresInSeconds: 900,
    debtor: { name: "Alice Ltd", account: "GB33BUKB20201555555555" },
    creditor: { name: "Bob GmbH", account: "DE89370400440532013000" },
  };
}

type PaymentJson = { status: string; history: { status: string; reason: string | null; txHash: string | null; blockNumber: number | null }[] };

async function statusOf(api: Api, key: string, uetr: string): Promise<PaymentJson> {
  return (await api("GET", `/v1/payments/${uetr}`, { key })).body as PaymentJson;
}

async function reaches(api: Api, key: string, uetr: string, status: string, timeoutMs = 30_000): Promise<PaymentJson> {
  return eventually(
    async () => {
      const got = await statusOf(api, key, uetr);
      return got.status === status ? got : undefined;
    },
    timeoutMs,
    `${uetr} ${status}`,
  );
}

/** Mines blocks one at a time (hardhat_mine's reserved blocks do not always link up after a revert). */
async function mine(blocks: number): Promise<void> {
  for (let k = 0; k < blocks; k++) await network.provider.send("evm_mine", []);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The node goes away: its server stops listening and drops every connection. */
async function closeRpc(rpc: { server: JsonRpcServer | null }): Promise<void> {
  const server = rpc.server!;
  rpc.server = null;
  const closed = server.close();
  // Node's close() ends only the connections idle at that moment; the relay polls every 100 ms
  // over keep-alive connections, which would keep being served (and keep close() waiting).
  (server as unknown as { _httpServer: Server })._httpServer.closeAllConnections();
  await closed;
}

/** A new JSON-RPC server for the same chain on the same address: the node is back. */
async function reopenRpc(rpc: { port: number; server: JsonRpcServer | null }): Promise<void> {
  const server: JsonRpcServer = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: rpc.port, provider: network.provider });
  await server.listen();
  rpc.server = server;
}
