import { randomUUID } from "node:crypto";
import { expect } from "chai";
import pino from "pino";
import { sql } from "kysely";
import { account, apiClient, deploymentOf, eventCounts, OPERATOR_KEY, startRelayWorld, type AccountJson, type Api, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { postgresAvailable, TEST_POSTGRES_URL } from "../server/databases";
import { loadConfig } from "../../server/config/env";
import { startRelay, type Relay } from "../../server/relay";
import { uetrToBytes16 } from "../../server/chain/typed-data";

/**
 * The relay on PostgreSQL, end to end over HTTP: one payment through its whole life, then two relay
 * processes (two startRelay instances, each with its own connection pool) sharing one database
 * and one operator key. Under CI=true this suite must run: an unreachable server fails it.
 */
describe("relay end to end on PostgreSQL", function () {
  this.timeout(180_000);

  before(async function () {
    if (await postgresAvailable()) return;
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI and did not answer at ${TEST_POSTGRES_URL}`);
    this.skip();
  });

  describe("one relay", () => {
    let world: RelayWorld;

    before(async () => {
      world = await startRelayWorld({ dialect: "postgres", approveWindows: true });
    });
    after(async () => world?.stop());

    it("settles net payments that race their window's close: each settles once, in this window or the next", async () => {
      const treasury = world.keys.treasury;
      const key = (i: number) => world.keys.banks[world.bic(i)];
      const send = (i: number) =>
        world.api("POST", "/v1/payments", {
          key: key(i % 4),
          idempotencyKey: randomUUID(),
          body: { ...paymentBody(world.bic(i % 4), world.bic((i + 1) % 4), String(100 + i), "JPY"), settlement: "net" },
        });
      const first = await send(0);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      const windowId = first.body.windowId as string;
      // Payments arrive while treasury closes the window: each joins the closing one or the next.
      const [racing, closed] = await Promise.all([
        Promise.all(Array.from({ length: 24 }, (_, i) => send(i + 1))),
        world.api("POST", `/v1/windows/${windowId}/close`, { key: treasury, idempotencyKey: randomUUID() }),
      ]);
      expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
      expect(racing.map((r) => r.status)).to.deep.equal(Array(24).fill(201));
      const uetrs = [first.body.uetr as string, ...racing.map((r) => r.body.uetr as string)];
      const windowIds = [...new Set([windowId, ...racing.map((r) => r.body.windowId as string)])];
      expect(windowIds.length).to.be.at.most(2);
      for (const id of windowIds) {
        const w = (await world.api("GET", `/v1/windows/${id}`, { key: treasury })).body;
        if (w.state === "OPEN") expect((await world.api("POST", `/v1/windows/${id}/close`, { key: treasury, idempotencyKey: randomUUID() })).status).to.equal(200);
      }
      for (const uetr of uetrs) await reaches(world.api, treasury, uetr, "SETTLED");
      const { db } = world.relay.database;
      const included = await db.selectFrom("window_payments").select(["uetr", "window_id"]).where("uetr", "in", uetrs).execute();
      expect(included.map((r) => r.uetr).sort()).to.deep.equal([...uetrs].sort()); // each in exactly one window
      // Every bank's JPY books equal its chain balance, and its netting account is back to zero.
      for (let i = 0; i < 4; i++) {
        const jpy = await account(world.api, key(i), "JPY");
        expect(jpy.posted).to.equal(jpy.onChain);
        const netting = await world.relay.ledger.getAccount(db, `netting:${world.bic(i)}:JPY`);
        expect(netting!.creditsPosted - netting!.debitsPosted).to.equal(0n);
      }
    });

    it("settles a payment through the API: chain, ledger and history agree", async () => {
      expect(world.relay.database.dialect).to.equal("postgres");
      const [alice, bob] = world.fixture.banks;
      const gbp = world.fixture.tokens.GBP;
      const before = [await gbp.balanceOf(alice), await gbp.balanceOf(bob)];
      const A = world.keys.banks[world.bic(0)];
      const B = world.keys.banks[world.bic(1)];

      const created = await world.api("POST", "/v1/payments", { key: A, idempotencyKey: randomUUID(), body: paymentBody(world.bic(0), world.bic(1), "12345", "GBP") });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const { uetr } = created.body as { uetr: string };
      expect(created.body.status).to.equal("RECEIVED");

      await reaches(world.api, A, uetr, "LOCKED");
      expect(await world.fixture.escrow.paymentState(uetrToBytes16(uetr))).to.equal(1n);
      const aliceLocked = await account(world.api, A, "GBP");
      expect(aliceLocked.pendingDebits).to.equal("12345");
      expect(BigInt(aliceLocked.available)).to.equal(before[0] - 12_345n);

      const confirmed = await world.api("POST", `/v1/payments/${uetr}/confirm`, { key: B, idempotencyKey: randomUUID() });
      expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(200);
      const settled = await reaches(world.api, A, uetr, "SETTLED");
      expect(settled.history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);

      // Chain: one lock and one release, the funds moved once.
      expect(await world.fixture.escrow.paymentState(uetrToBytes16(uetr))).to.equal(2n);
      expect(await eventCounts(world.fixture, "Locked")).to.deep.equal({ [uetr]: 1 });
      expect(await eventCounts(world.fixture, "Released")).to.deep.equal({ [uetr]: 1 });
      expect(await gbp.balanceOf(alice)).to.equal(before[0] - 12_345n);
      expect(await gbp.balanceOf(bob)).to.equal(before[1] + 12_345n);

      // Ledger: the pending lock was posted; both banks' books equal their chain balances.
      const { db } = world.relay.database;
      const transfers = await world.relay.ledger.transfersOf(db, uetr);
      expect(transfers.map((t) => [t.id, t.kind])).to.deep.equal([
        [`${uetr}:lock`, "pending"],
        [`${uetr}:release`, "post_pending"],
      ]);
      for (const key of [A, B]) {
        const gbpAccount = await account(world.api, key, "GBP");
        expect(gbpAccount.posted).to.equal(gbpAccount.onChain);
        expect(gbpAccount.pendingDebits).to.equal("0");
      }
      // The submitter marks an intent done when it next checks the receipt (every 2 s).
      const intents = await eventually(async () => {
        const rows = await db.selectFrom("chain_intents").select(["kind", "status"]).where("uetr", "=", uetr).orderBy("kind").execute();
        return rows.every((r) => r.status === "done") ? rows : undefined;
      }, 10_000, "intents done");
      expect(intents).to.deep.equal([
        { kind: "lock", status: "done" },
        { kind: "release", status: "done" },
      ]);
    });
  });

  describe("two relays on one database", () => {
    const PAYMENTS = 60;
    let world: RelayWorld;
    let peer: Relay | undefined;

    before(async () => {
      world = await startRelayWorld({ dialect: "postgres", env: { AUTO_RELEASE: "true" } });
      // A second relay process: its own pool, HTTP server, submitter, indexer and webhook worker,
      // on the same schema, chain and operator key.
      const config = loadConfig({
        PORT: "0",
        DATABASE_URL: world.databaseUrl,
        RPC_URL: world.rpcUrl,
        CONFIRMATIONS: "1",
        OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
        AUTO_RELEASE: "true",
        LOG_LEVEL: "silent",
      });
      peer = await startRelay(config, {
        deployment: await deploymentOf(world.fixture),
        logger: pino({ level: "silent" }),
        intervals: { submitter: 100, indexer: 100, webhooks: 100, expiry: 200 },
        now: world.now, // leases and histories compare the two processes' clocks
      });
      // Test-only audit of the outbox: every lease taken on a chain intent, by whom.
      const { db } = world.relay.database;
      await sql`create table test_lease_claims (owner text not null, intent_id text not null)`.execute(db);
      await sql`create function test_record_claim() returns trigger language plpgsql as $$
        begin insert into test_lease_claims values (new.lease_owner, new.id); return new; end $$`.execute(db);
      await sql`create trigger test_record_claim after update of lease_owner on chain_intents
        for each row when (new.lease_owner is not null) execute function test_record_claim()`.execute(db);
    });
    after(async () => {
      await peer?.stop();
      await world?.stop();
    });

    it(`share the outbox: ${PAYMENTS} payments through both APIs settle once each, no nonce or intent used twice`, async () => {
      const relays = [world.api, apiClient(peer!.url)];
      const { db } = world.relay.database;
      const currencies = ["GBP", "JPY", "BHD"] as const;
      const banks = world.fixture.banks;
      const balance = async (bank: number, currency: string) => world.fixture.tokens[currency].balanceOf(banks[bank]);
      const before = new Map<string, bigint>();
      for (const currency of currencies) for (let b = 0; b < banks.length; b++) before.set(`${b}:${currency}`, await balance(b, currency));

      const expected = new Map<string, bigint>();
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: PAYMENTS }, async (_, i) => {
          const debtor = i % banks.length;
          const creditor = (i + 1 + (i % 3)) % banks.length;
          const currency = currencies[i % currencies.length];
          const amount = BigInt(1_000 + i);
          expected.set(`${debtor}:${currency}`, (expected.get(`${debtor}:${currency}`) ?? 0n) - amount);
          expected.set(`${creditor}:${currency}`, (expected.get(`${creditor}:${currency}`) ?? 0n) + amount);
          const res = await relays[i % 2]("POST", "/v1/payments", {
            key: world.keys.banks[world.bic(debtor)],
            idempotencyKey: randomUUID(),
            body: paymentBody(world.bic(debtor), world.bic(creditor), amount.toString(), currency),
          });
          return { ...res, debtor };
        }),
      );
      for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).to.equal(201);
      const uetrs = answers.map((a) => a.body.uetr as string);
      expect(new Set(uetrs).size).to.equal(PAYMENTS);

      await eventually(
        async () => {
          const rows = await db.selectFrom("payments").select(["status", db.fn.countAll<number>().as("n")]).groupBy("status").execute();
          return rows.length === 1 && rows[0].status === "SETTLED" && Number(rows[0].n) === PAYMENTS ? true : undefined;
        },
        120_000,
        `${PAYMENTS} payments SETTLED`,
      );
      // Lease tokens are `<workerId>/<run>`, one worker id per relay process.
      const claims = (await sql<{ owner: string; intent_id: string }>`select owner, intent_id from test_lease_claims`.execute(db)).rows;
      const byWorker = new Map<string, Set<string>>();
      for (const claim of claims) {
        const worker = claim.owner.split("/")[0];
        byWorker.set(worker, (byWorker.get(worker) ?? new Set()).add(claim.intent_id));
      }
      console.log(`      ${PAYMENTS} payments settled through two relays in ${Date.now() - started} ms; intents claimed per relay: ${[...byWorker.values()].map((ids) => ids.size).join(" + ")}`);
      expect(byWorker.size, "both relays' submitters took work from the outbox").to.equal(2);

      // Each payment as either relay's API sees it: the same, and settled once.
      for (const [i, uetr] of uetrs.entries()) {
        const key = world.keys.banks[world.bic(answers[i].debtor)];
        for (const api of relays) {
          const got = await api("GET", `/v1/payments/${uetr}`, { key });
          expect(got.body.history.map((h: { status: string }) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);
        }
      }

      // Chain: exactly one Locked and one Released per UETR, and nothing else.
      const locked = await eventCounts(world.fixture, "Locked");
      const released = await eventCounts(world.fixture, "Released");
      expect(Object.keys(locked)).to.have.members(uetrs);
      expect(Object.keys(released)).to.have.members(uetrs);
      expect(Object.values(locked).every((n) => n === 1), "one Locked per UETR").to.equal(true);
      expect(Object.values(released).every((n) => n === 1), "one Released per UETR").to.equal(true);
      for (const [key, delta] of expected) {
        const [bank, currency] = key.split(":");
        expect(await balance(Number(bank), currency), key).to.equal(before.get(key)! + delta);
      }

      // Transactions: one per nonce per signer, contiguous, all mined successfully.
      const txs = await db.selectFrom("chain_transactions").selectAll().orderBy("nonce").execute();
      const signers = new Set(txs.map((t) => t.signer));
      expect([...signers]).to.deep.equal([world.fixture.admin.address]);
      const nonces = txs.map((t) => Number(t.nonce));
      expect(new Set(nonces).size, "nonces unique per signer").to.equal(nonces.length);
      expect(nonces[nonces.length - 1] - nonces[0] + 1, "nonces contiguous").to.equal(nonces.length);
      const provider = world.fixture.escrow.runner!.provider!;
      for (const tx of txs) expect((await provider.getTransactionReceipt(tx.hash))?.status, tx.hash).to.equal(1);

      // Intents: one lock and one release per payment, each done and in exactly one transaction.
      // (The submitter marks an intent done when it next checks its receipt, every 2 s.)
      const intents = await eventually(async () => {
        const rows = await db.selectFrom("chain_intents").select(["id", "kind", "status", "tx_hash"]).execute();
        return rows.every((i) => i.status === "done") ? rows : undefined;
      }, 10_000, "intents done");
      expect(intents).to.have.length(2 * PAYMENTS);
      const sentIn = new Map<string, string[]>();
      for (const tx of txs) for (const id of JSON.parse(tx.intent_ids) as string[]) sentIn.set(id, [...(sentIn.get(id) ?? []), tx.hash]);
      for (const intent of intents) {
        expect(sentIn.get(intent.id), `intent ${intent.kind} ${intent.id}`).to.deep.equal([intent.tx_hash]);
      }
      // (The deposit tokens' Minted events of the fixture's set-up are indexed too.)
      const escrowEvents = db.selectFrom("chain_events").where("name", "in", ["Locked", "Released"]);
      expect(await escrowEvents.select(db.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).to.deep.equal({ n: 2 * PAYMENTS });

      // Ledger: every bank's books equal its chain balances, nothing left pending.
      for (let b = 0; b < banks.length; b++) {
        const accounts = (await world.api("GET", "/v1/accounts", { key: world.keys.banks[world.bic(b)] })).body.accounts as AccountJson[];
        for (const currency of currencies) {
          const acc = accounts.find((a) => a.currency === currency)!;
          expect(acc.posted, `${world.bic(b)} ${currency}`).to.equal(acc.onChain);
          expect(acc.pendingDebits).to.equal("0");
          expect(acc.pendingCredits).to.equal("0");
        }
      }
    });
  });
});

function paymentBody(debtorBic: string, creditorBic: string, value: string, currency: string) {
  return {
    endToEndId: `E2E-${randomUUID().slice(0, 8)}`,
    debtorAgent: { bic: debtorBic },
    creditorAgent: { bic: creditorBic },
    amount: { value, currency },
    expiresInSeconds: 900,
    debtor: { name: "Alice Ltd", account: "GB33BUKB20201555555555" },
    creditor: { name: "Bob GmbH", account: "DE89370400440532013000" },
  };
}

type PaymentJson = { status: string; history: { status: string; reason: string | null; txHash: string | null }[] };

async function reaches(api: Api, key: string, uetr: string, status: string): Promise<PaymentJson> {
  return eventually(
    async () => {
      const got = (await api("GET", `/v1/payments/${uetr}`, { key })).body as PaymentJson;
      return got.status === status ? got : undefined;
    },
    30_000,
    `${uetr} ${status}`,
  );
}

