import assert from "node:assert/strict";
import { expect } from "chai";
import fc from "fast-check";
import pg from "pg";
import { openDatabase, type DatabaseHandle, type Db, type Dialect } from "../../server/db/database";
import {
  bankAccountId,
  createLedgerService,
  feeAccountId,
  reserveAccountId,
  type LedgerAccount,
  type LedgerErrorCode,
  type LedgerService,
  type LedgerTransfer,
  type NewTransfer,
} from "../../server/ledger/service";
import type { Result } from "../../server/shared/result";
import { forEachDialect, openTestDatabase, postgresTestUrl, TEST_POSTGRES_URL } from "./databases";

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

const BIC_A = "AAAAUS33";
const BIC_B = "BBBBDEFF";
const BIC_C = "CCCCGB2L";

const RESERVE_USD = reserveAccountId("USD");
const RESERVE_EUR = reserveAccountId("EUR");
const FEE_USD = feeAccountId("USD");
const A_USD = bankAccountId(BIC_A, "USD");
const B_USD = bankAccountId(BIC_B, "USD");
const C_USD = bankAccountId(BIC_C, "USD");
const A_EUR = bankAccountId(BIC_A, "EUR");
const B_EUR = bankAccountId(BIC_B, "EUR");

type Balances = Pick<LedgerAccount, "debitsPosted" | "creditsPosted" | "debitsPending" | "creditsPending">;

function balances(debitsPosted: bigint, creditsPosted: bigint, debitsPending = 0n, creditsPending = 0n): Balances {
  return { debitsPosted, creditsPosted, debitsPending, creditsPending };
}

function onlyBalances(account: LedgerAccount | undefined): Balances {
  assert.ok(account, "account exists");
  const { debitsPosted, creditsPosted, debitsPending, creditsPending } = account!;
  return { debitsPosted, creditsPosted, debitsPending, creditsPending };
}

function ok<T>(result: Result<T, LedgerErrorCode>): T {
  if (!result.ok) expect.fail(`expected success, got ${result.code}: ${result.message}`);
  return result.value;
}

function failed(result: Result<unknown, LedgerErrorCode>, code: LedgerErrorCode) {
  if (result.ok) expect.fail(`expected ${code}, got success ${JSON.stringify(result.value, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`);
  expect(result.code).to.equal(code);
  expect(result.message).to.be.a("string").and.not.equal("");
  return result;
}

const isRetryableSqlError = (error: unknown): boolean =>
  typeof error === "object" && error !== null && ["40001", "40P01"].includes(String((error as { code?: unknown }).code));

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * openTestDatabase, made robust for a shared PostgreSQL server: Kysely's migrator introspects
 * every schema of the `test` database and fails ("… does not exist") when another test process
 * drops its own schema at that moment, and openTestDatabase then leaves its new, empty schema
 * behind. Here the schema is dropped whatever happens, and the open is retried on that race.
 */
async function openFreshDatabase(dialect: Dialect): Promise<DatabaseHandle> {
  if (dialect === "sqlite") return openTestDatabase(dialect);
  for (let attempt = 1; ; attempt++) {
    const url = await postgresTestUrl();
    const schema = new URL(url).searchParams.get("options")!.replace("-c search_path=", "");
    try {
      const handle = await openDatabase(url); // a pool of 10 connections
      return {
        ...handle,
        async close() {
          try {
            await handle.close();
          } finally {
            await dropSchema(schema);
          }
        },
      };
    } catch (error) {
      await dropSchema(schema);
      if (attempt >= 5 || !/does not exist/.test(String(error))) throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The suite, once on SQLite and once on PostgreSQL
// ---------------------------------------------------------------------------------------------

forEachDialect("server/ledger/service", (dialect: Dialect) => {
  let handle: DatabaseHandle | undefined;
  let ledger: LedgerService;
  let clock: number;

  beforeEach(async function () {
    clock = 1_700_000_000_000;
    handle = await openFreshDatabase(dialect);
    ledger = createLedgerService({ dialect, now: () => ++clock });
  });

  afterEach(async function () {
    // Cleared first: if the next beforeEach fails, this handle must not be closed twice.
    const open = handle;
    handle = undefined;
    await open?.close();
  });

  const db = () => {
    if (!handle) throw new Error("no open database");
    return handle.db;
  };

  /** Every write runs in its own transaction, as the service requires. */
  const tx = <T>(fn: (trx: Db) => Promise<T>): Promise<T> => db().transaction().execute(fn);

  const transfer = (input: NewTransfer) => tx((trx) => ledger.createTransfer(trx, input));
  const post = (id: string, pendingId: string) => tx((trx) => ledger.postPending(trx, { id, pendingId }));
  const voidIt = (id: string, pendingId: string) => tx((trx) => ledger.voidPending(trx, { id, pendingId }));
  const account = async (id: string) => onlyBalances(await ledger.getAccount(db(), id));

  async function transferCount(): Promise<number> {
    const rows = await db().selectFrom("ledger_transfers").select("id").execute();
    return rows.length;
  }

  /** Everything a write may change: every account and every stored transfer. */
  async function snapshot() {
    const accounts = await ledger.listAccounts(db());
    const transfers = await db().selectFrom("ledger_transfers").selectAll().orderBy("id").execute();
    return { accounts, transfers };
  }

  async function standardAccounts(): Promise<void> {
    await tx(async (trx) => {
      await ledger.ensureAccount(trx, { id: RESERVE_USD, kind: "reserve", bic: null, currency: "USD" });
      await ledger.ensureAccount(trx, { id: RESERVE_EUR, kind: "reserve", bic: null, currency: "EUR" });
      await ledger.ensureAccount(trx, { id: FEE_USD, kind: "fee", bic: null, currency: "USD" });
      await ledger.ensureAccount(trx, { id: A_USD, kind: "bank", bic: BIC_A, currency: "USD" });
      await ledger.ensureAccount(trx, { id: B_USD, kind: "bank", bic: BIC_B, currency: "USD" });
      await ledger.ensureAccount(trx, { id: C_USD, kind: "bank", bic: BIC_C, currency: "USD" });
      await ledger.ensureAccount(trx, { id: A_EUR, kind: "bank", bic: BIC_A, currency: "EUR" });
      await ledger.ensureAccount(trx, { id: B_EUR, kind: "bank", bic: BIC_B, currency: "EUR" });
    });
  }

  /** Mints `amount` into a bank account: the reserve is debited, the bank credited. */
  async function fund(id: string, bankAccount: string, amount: bigint, currency = "USD"): Promise<void> {
    ok(await transfer({ id, debitAccountId: reserveAccountId(currency), creditAccountId: bankAccount, amount, phase: "posted" }));
  }

  // -------------------------------------------------------------------------------------------
  describe("ensureAccount", () => {
    it("creates an account with zero balances; only the reserve may go negative", async () => {
      await standardAccounts();
      const reserve = await ledger.getAccount(db(), RESERVE_USD);
      expect(reserve).to.deep.equal({
        id: RESERVE_USD,
        kind: "reserve",
        bic: null,
        currency: "USD",
        allowNegative: true,
        ...balances(0n, 0n),
      });
      const bank = await ledger.getAccount(db(), A_EUR);
      expect(bank).to.deep.equal({ id: A_EUR, kind: "bank", bic: BIC_A, currency: "EUR", allowNegative: false, ...balances(0n, 0n) });
      const fee = await ledger.getAccount(db(), FEE_USD);
      expect(fee?.allowNegative).to.equal(false);
      expect(await ledger.getAccount(db(), "bank:NOPE:USD")).to.equal(undefined);
    });

    it("returns the created account from the call that creates it", async () => {
      const created = await tx((trx) => ledger.ensureAccount(trx, { id: B_USD, kind: "bank", bic: BIC_B, currency: "USD" }));
      expect(created).to.deep.equal({ id: B_USD, kind: "bank", bic: BIC_B, currency: "USD", allowNegative: false, ...balances(0n, 0n) });
    });

    it("is idempotent: a second call returns the existing account, balances and all, and adds no row", async () => {
      await standardAccounts();
      await fund("fund", A_USD, 700n);
      const again = await tx((trx) => ledger.ensureAccount(trx, { id: A_USD, kind: "bank", bic: BIC_A, currency: "USD" }));
      expect(again).to.deep.equal({ id: A_USD, kind: "bank", bic: BIC_A, currency: "USD", allowNegative: false, ...balances(0n, 700n) });
      // A second call with other attributes changes nothing either.
      const other = await tx((trx) => ledger.ensureAccount(trx, { id: A_USD, kind: "reserve", bic: null, currency: "EUR" }));
      expect(other).to.deep.equal(again);
      expect(await ledger.getAccount(db(), A_USD)).to.deep.equal(again);
      await standardAccounts();
      const rows = await db().selectFrom("ledger_accounts").select("id").execute();
      expect(rows.map((r) => r.id).sort()).to.deep.equal([A_EUR, A_USD, B_EUR, B_USD, C_USD, FEE_USD, RESERVE_EUR, RESERVE_USD].sort());
    });

    it("lets a reserve be debited past zero but not a bank account", async () => {
      await standardAccounts();
      ok(await transfer({ id: "mint", debitAccountId: RESERVE_USD, creditAccountId: B_USD, amount: 5n, phase: "posted" }));
      expect(await account(RESERVE_USD)).to.deep.equal(balances(5n, 0n));
      failed(await transfer({ id: "overdraft", debitAccountId: A_USD, creditAccountId: B_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
      expect(await account(A_USD)).to.deep.equal(balances(0n, 0n));
    });

    it("does not let a fee account go negative", async () => {
      await standardAccounts();
      failed(await transfer({ id: "f", debitAccountId: FEE_USD, creditAccountId: A_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("createTransfer", () => {
    beforeEach(standardAccounts);

    it("posts a transfer: both sides move by exactly the amount and the transfer is stored", async () => {
      const t = ok(
        await transfer({
          id: "t1",
          debitAccountId: RESERVE_USD,
          creditAccountId: A_USD,
          amount: 1_000n,
          phase: "posted",
          uetr: "u-1",
          reference: "mint 1",
        }),
      );
      expect(t).to.deep.equal({
        id: "t1",
        kind: "posted",
        debitAccountId: RESERVE_USD,
        creditAccountId: A_USD,
        currency: "USD",
        amount: 1_000n,
        pendingId: null,
        uetr: "u-1",
        reference: "mint 1",
        createdAt: clock,
      });
      expect(await account(RESERVE_USD)).to.deep.equal(balances(1_000n, 0n));
      expect(await account(A_USD)).to.deep.equal(balances(0n, 1_000n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 0n));
      expect(await ledger.transfersOf(db(), "u-1")).to.deep.equal([t]);

      const t2 = ok(await transfer({ id: "t2", debitAccountId: A_USD, creditAccountId: B_USD, amount: 250n, phase: "posted" }));
      expect(t2.uetr).to.equal(null);
      expect(t2.reference).to.equal(null);
      expect(await account(A_USD)).to.deep.equal(balances(250n, 1_000n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 250n));
    });

    it("creates a pending transfer: only the pending balances move", async () => {
      await fund("fund", A_USD, 1_000n);
      const t = ok(await transfer({ id: "p1", debitAccountId: A_USD, creditAccountId: B_USD, amount: 300n, phase: "pending" }));
      expect(t).to.include({ id: "p1", kind: "pending", debitAccountId: A_USD, creditAccountId: B_USD, currency: "USD", amount: 300n, pendingId: null });
      expect(await account(A_USD)).to.deep.equal(balances(0n, 1_000n, 300n, 0n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 0n, 0n, 300n));
      expect(await account(RESERVE_USD)).to.deep.equal(balances(1_000n, 0n));
    });

    it("rejects a debit past a bank account's posted credits, counting posted and pending debits", async () => {
      await fund("fund", A_USD, 1_000n);
      ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 600n, phase: "pending" }));
      // 1000 credits - 600 pending = 400 available.
      const before = await snapshot();
      const rejected = failed(await transfer({ id: "x", debitAccountId: A_USD, creditAccountId: B_USD, amount: 401n, phase: "posted" }), "exceeds_credits");
      expect(rejected.details).to.deep.equal({ account: A_USD, available: "400", amount: "401" });
      failed(await transfer({ id: "y", debitAccountId: A_USD, creditAccountId: C_USD, amount: 401n, phase: "pending" }), "exceeds_credits");
      expect(await snapshot()).to.deep.equal(before);

      ok(await transfer({ id: "z", debitAccountId: A_USD, creditAccountId: C_USD, amount: 150n, phase: "posted" }));
      // 1000 - 600 pending - 150 posted = 250 available; exactly 250 is allowed, one more is not.
      failed(await transfer({ id: "w1", debitAccountId: A_USD, creditAccountId: C_USD, amount: 251n, phase: "pending" }), "exceeds_credits");
      ok(await transfer({ id: "w2", debitAccountId: A_USD, creditAccountId: C_USD, amount: 250n, phase: "pending" }));
      failed(await transfer({ id: "w3", debitAccountId: A_USD, creditAccountId: C_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
      expect(await account(A_USD)).to.deep.equal(balances(150n, 1_000n, 850n, 0n));
      expect(await transferCount()).to.equal(4);
    });

    it("does not count pending credits as available", async () => {
      await fund("fund", A_USD, 100n);
      ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 100n, phase: "pending" }));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 0n, 0n, 100n));
      failed(await transfer({ id: "x", debitAccountId: B_USD, creditAccountId: C_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
      expect(await account(B_USD)).to.deep.equal(balances(0n, 0n, 0n, 100n));
    });

    it("lets the reserve go negative by any amount, beyond 64 bits", async () => {
      const huge = 10n ** 30n + 7n;
      ok(await transfer({ id: "m1", debitAccountId: RESERVE_USD, creditAccountId: A_USD, amount: huge, phase: "posted" }));
      ok(await transfer({ id: "m2", debitAccountId: RESERVE_USD, creditAccountId: B_USD, amount: huge, phase: "pending" }));
      expect(await account(RESERVE_USD)).to.deep.equal(balances(huge, 0n, huge, 0n));
      expect(await account(A_USD)).to.deep.equal(balances(0n, huge));
      ok(await transfer({ id: "m3", debitAccountId: A_USD, creditAccountId: C_USD, amount: huge, phase: "posted" }));
      expect(await account(C_USD)).to.deep.equal(balances(0n, huge));
      failed(await transfer({ id: "m4", debitAccountId: A_USD, creditAccountId: C_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
    });

    it("rejects a zero or negative amount with invalid_amount and stores nothing", async () => {
      await fund("fund", A_USD, 100n);
      const before = await snapshot();
      for (const [id, amount] of [["zero", 0n], ["negative", -5n], ["very negative", -(10n ** 20n)]] as const) {
        for (const phase of ["posted", "pending"] as const) {
          failed(await transfer({ id, debitAccountId: A_USD, creditAccountId: B_USD, amount, phase }), "invalid_amount");
          failed(await transfer({ id, debitAccountId: RESERVE_USD, creditAccountId: B_USD, amount, phase }), "invalid_amount");
        }
      }
      expect(await snapshot()).to.deep.equal(before);
    });

    it("rejects a transfer from an account to itself", async () => {
      await fund("fund", A_USD, 100n);
      const before = await snapshot();
      failed(await transfer({ id: "s1", debitAccountId: A_USD, creditAccountId: A_USD, amount: 1n, phase: "posted" }), "same_account");
      failed(await transfer({ id: "s2", debitAccountId: RESERVE_USD, creditAccountId: RESERVE_USD, amount: 1n, phase: "pending" }), "same_account");
      expect(await snapshot()).to.deep.equal(before);
    });

    it("rejects an unknown debit or credit account with account_not_found", async () => {
      await fund("fund", A_USD, 100n);
      const before = await snapshot();
      const missingCredit = failed(
        await transfer({ id: "n1", debitAccountId: A_USD, creditAccountId: "bank:ZZZZ:USD", amount: 1n, phase: "posted" }),
        "account_not_found",
      );
      expect(missingCredit.details).to.deep.equal({ account: "bank:ZZZZ:USD" });
      const missingDebit = failed(
        await transfer({ id: "n2", debitAccountId: "bank:YYYY:USD", creditAccountId: A_USD, amount: 1n, phase: "pending" }),
        "account_not_found",
      );
      expect(missingDebit.details).to.deep.equal({ account: "bank:YYYY:USD" });
      failed(await transfer({ id: "n3", debitAccountId: "x", creditAccountId: "y", amount: 1n, phase: "posted" }), "account_not_found");
      expect(await snapshot()).to.deep.equal(before);
    });

    it("rejects accounts in two currencies with currency_mismatch", async () => {
      await fund("fund", A_USD, 100n);
      await fund("fund eur", A_EUR, 100n, "EUR");
      const before = await snapshot();
      const mismatch = failed(
        await transfer({ id: "c1", debitAccountId: A_USD, creditAccountId: B_EUR, amount: 1n, phase: "posted" }),
        "currency_mismatch",
      );
      expect(mismatch.details).to.deep.equal({ debitCurrency: "USD", creditCurrency: "EUR" });
      failed(await transfer({ id: "c2", debitAccountId: RESERVE_EUR, creditAccountId: A_USD, amount: 1n, phase: "pending" }), "currency_mismatch");
      failed(await transfer({ id: "c3", debitAccountId: A_EUR, creditAccountId: A_USD, amount: 1n, phase: "posted" }), "currency_mismatch");
      expect(await snapshot()).to.deep.equal(before);
    });

    it("returns the first transfer for a retry with the same id and fields, and moves nothing more", async () => {
      await fund("fund", A_USD, 100n);
      const request: NewTransfer = { id: "r", debitAccountId: A_USD, creditAccountId: B_USD, amount: 100n, phase: "posted", uetr: "u-r" };
      const first = ok(await transfer(request));
      const after = await snapshot();
      // The retry comes later (the clock has moved) and A has nothing left: still the first result.
      const retried = ok(await transfer(request));
      expect(retried).to.deep.equal(first);
      ok(await transfer({ ...request, uetr: undefined, reference: undefined }));
      expect(await snapshot()).to.deep.equal(after);
      expect(await account(A_USD)).to.deep.equal(balances(100n, 100n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 100n));

      const pendingRequest: NewTransfer = { id: "rp", debitAccountId: B_USD, creditAccountId: C_USD, amount: 60n, phase: "pending" };
      const firstPending = ok(await transfer(pendingRequest));
      const afterPending = await snapshot();
      expect(ok(await transfer(pendingRequest))).to.deep.equal(firstPending);
      expect(await snapshot()).to.deep.equal(afterPending);
      expect(await account(B_USD)).to.deep.equal(balances(0n, 100n, 60n, 0n));
    });

    it("rejects the same id with different fields with transfer_exists_with_different_fields", async () => {
      await fund("fund", A_USD, 1_000n);
      const request: NewTransfer = { id: "d", debitAccountId: A_USD, creditAccountId: B_USD, amount: 100n, phase: "pending" };
      ok(await transfer(request));
      const before = await snapshot();
      for (const variant of [
        { amount: 101n },
        { amount: 99n },
        { creditAccountId: C_USD },
        { debitAccountId: RESERVE_USD },
        { debitAccountId: B_USD, creditAccountId: A_USD },
        { phase: "posted" as const },
      ]) {
        const rejected = failed(await transfer({ ...request, ...variant }), "transfer_exists_with_different_fields");
        expect(rejected.details).to.deep.equal({ id: "d" });
      }
      // A resolution's id cannot be reused by a new transfer either.
      ok(await post("d-post", "d"));
      const afterPost = await snapshot();
      failed(
        await transfer({ id: "d-post", debitAccountId: A_USD, creditAccountId: B_USD, amount: 100n, phase: "posted" }),
        "transfer_exists_with_different_fields",
      );
      expect(await snapshot()).to.deep.equal(afterPost);
      expect(before.transfers).to.have.length(2);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("postPending and voidPending", () => {
    beforeEach(async () => {
      await standardAccounts();
      await fund("fund", A_USD, 1_000n);
      ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 300n, phase: "pending", uetr: "u-p", reference: "hold" }));
    });

    it("posting moves the amount from pending to posted on both sides", async () => {
      const pending = (await ledger.transfersOf(db(), "u-p"))[0];
      const posted = ok(await post("p-post", "p"));
      expect(posted).to.deep.equal({ ...pending, id: "p-post", kind: "post_pending", pendingId: "p", createdAt: clock });
      expect(await account(A_USD)).to.deep.equal(balances(300n, 1_000n, 0n, 0n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 300n, 0n, 0n));
      // B can now spend what was posted to it.
      ok(await transfer({ id: "spend", debitAccountId: B_USD, creditAccountId: C_USD, amount: 300n, phase: "posted" }));
      expect(await account(B_USD)).to.deep.equal(balances(300n, 300n));
    });

    it("voiding returns the amount to availability; nothing is posted", async () => {
      const voided = ok(await voidIt("p-void", "p"));
      expect(voided).to.include({ id: "p-void", kind: "void_pending", pendingId: "p", amount: 300n, debitAccountId: A_USD, creditAccountId: B_USD });
      expect(await account(A_USD)).to.deep.equal(balances(0n, 1_000n, 0n, 0n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 0n, 0n, 0n));
      // The whole 1000 is available again.
      ok(await transfer({ id: "all", debitAccountId: A_USD, creditAccountId: C_USD, amount: 1_000n, phase: "posted" }));
      expect(await account(A_USD)).to.deep.equal(balances(1_000n, 1_000n));
    });

    it("rejects an unknown id or a transfer that is not pending with pending_transfer_not_found", async () => {
      ok(await transfer({ id: "posted", debitAccountId: A_USD, creditAccountId: C_USD, amount: 10n, phase: "posted" }));
      ok(await post("p-post", "p"));
      const before = await snapshot();
      for (const target of ["nope", "posted", "fund", "p-post"]) {
        const notFound = failed(await post(`post-${target}`, target), "pending_transfer_not_found");
        expect(notFound.details).to.deep.equal({ pendingId: target });
        failed(await voidIt(`void-${target}`, target), "pending_transfer_not_found");
      }
      expect(await snapshot()).to.deep.equal(before);
    });

    it("rejects posting twice with pending_transfer_already_resolved and moves nothing", async () => {
      ok(await post("p-post", "p"));
      const before = await snapshot();
      const again = failed(await post("p-post-2", "p"), "pending_transfer_already_resolved");
      expect(again.details).to.deep.equal({ pendingId: "p", resolvedBy: "p-post" });
      expect(await snapshot()).to.deep.equal(before);
    });

    it("rejects voiding after posting, and posting or voiding after voiding", async () => {
      ok(await post("p-post", "p"));
      const before = await snapshot();
      failed(await voidIt("p-void", "p"), "pending_transfer_already_resolved");
      expect(await snapshot()).to.deep.equal(before);
      expect(await account(A_USD)).to.deep.equal(balances(300n, 1_000n, 0n, 0n));

      ok(await transfer({ id: "q", debitAccountId: A_USD, creditAccountId: C_USD, amount: 200n, phase: "pending" }));
      ok(await voidIt("q-void", "q"));
      const afterVoid = await snapshot();
      failed(await voidIt("q-void-2", "q"), "pending_transfer_already_resolved");
      failed(await post("q-post", "q"), "pending_transfer_already_resolved");
      expect(await snapshot()).to.deep.equal(afterVoid);
      expect(await account(A_USD)).to.deep.equal(balances(300n, 1_000n, 0n, 0n));
      expect(await account(C_USD)).to.deep.equal(balances(0n, 0n, 0n, 0n));
    });

    it("returns the first result for a retried post or void with the same id", async () => {
      const posted = ok(await post("p-post", "p"));
      const afterPost = await snapshot();
      expect(ok(await post("p-post", "p"))).to.deep.equal(posted);
      expect(await snapshot()).to.deep.equal(afterPost);

      ok(await transfer({ id: "q", debitAccountId: A_USD, creditAccountId: C_USD, amount: 200n, phase: "pending" }));
      const voided = ok(await voidIt("q-void", "q"));
      const afterVoid = await snapshot();
      expect(ok(await voidIt("q-void", "q"))).to.deep.equal(voided);
      expect(await snapshot()).to.deep.equal(afterVoid);

      // The same id for the other resolution, or for another pending transfer, is a conflict.
      failed(await voidIt("p-post", "p"), "transfer_exists_with_different_fields");
      failed(await post("q-void", "q"), "transfer_exists_with_different_fields");
      failed(await post("p-post", "q"), "transfer_exists_with_different_fields");
      failed(await post("fund", "p"), "transfer_exists_with_different_fields");
      expect(await snapshot()).to.deep.equal(afterVoid);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("postPendingMany", () => {
    beforeEach(async () => {
      await standardAccounts();
      await fund("fund", A_USD, 1_000n);
      ok(await transfer({ id: "p1", debitAccountId: A_USD, creditAccountId: B_USD, amount: 300n, phase: "pending", uetr: "u-1" }));
      ok(await transfer({ id: "p2", debitAccountId: A_USD, creditAccountId: C_USD, amount: 200n, phase: "pending", uetr: "u-2" }));
    });
    const postMany = (resolves: { id: string; pendingId: string }[]) => tx((trx) => ledger.postPendingMany(trx, resolves));

    it("posts every pending transfer at once, as posting each would, and a repeat changes nothing", async () => {
      expect(ok(await postMany([{ id: "p1-post", pendingId: "p1" }, { id: "p2-post", pendingId: "p2" }]))).to.equal(2);
      expect(await account(A_USD)).to.deep.equal(balances(500n, 1_000n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 300n));
      expect(await account(C_USD)).to.deep.equal(balances(0n, 200n));
      const before = await snapshot();
      expect(ok(await postMany([{ id: "p1-post", pendingId: "p1" }, { id: "p2-post", pendingId: "p2" }]))).to.equal(0);
      expect(await snapshot()).to.deep.equal(before);
    });

    it("posts nothing when one of them is unknown or was resolved another way", async () => {
      const before = await snapshot();
      failed(await postMany([{ id: "p1-post", pendingId: "p1" }, { id: "x-post", pendingId: "missing" }]), "pending_transfer_not_found");
      expect(await snapshot()).to.deep.equal(before);
      ok(await voidIt("p2-void", "p2"));
      const afterVoid = await snapshot();
      failed(await postMany([{ id: "p1-post", pendingId: "p1" }, { id: "p2-post", pendingId: "p2" }]), "pending_transfer_already_resolved");
      expect(await snapshot()).to.deep.equal(afterVoid);
    });
  });

  describe("queries", () => {
    beforeEach(standardAccounts);

    it("transfersOf lists a payment's transfers in creation order and nothing else", async () => {
      ok(await transfer({ id: "z-fund", debitAccountId: RESERVE_USD, creditAccountId: A_USD, amount: 500n, phase: "posted", uetr: "u-1" }));
      ok(await transfer({ id: "other", debitAccountId: RESERVE_USD, creditAccountId: B_USD, amount: 5n, phase: "posted", uetr: "u-2" }));
      ok(await transfer({ id: "a-hold", debitAccountId: A_USD, creditAccountId: B_USD, amount: 200n, phase: "pending", uetr: "u-1" }));
      ok(await transfer({ id: "no-uetr", debitAccountId: A_USD, creditAccountId: C_USD, amount: 1n, phase: "posted" }));
      ok(await post("m-settle", "a-hold"));
      const list = await ledger.transfersOf(db(), "u-1");
      expect(list.map((t) => [t.id, t.kind])).to.deep.equal([
        ["z-fund", "posted"],
        ["a-hold", "pending"],
        ["m-settle", "post_pending"],
      ]);
      expect(list.map((t) => t.amount)).to.deep.equal([500n, 200n, 200n]);
      expect(list.every((t) => t.uetr === "u-1")).to.equal(true);
      expect((await ledger.transfersOf(db(), "u-2")).map((t) => t.id)).to.deep.equal(["other"]);
      expect(await ledger.transfersOf(db(), "u-none")).to.deep.equal([]);
    });

    it("transfersOf breaks ties in time by id", async () => {
      ledger = createLedgerService({ dialect, now: () => 42 });
      for (const id of ["c", "a", "b"]) {
        ok(await transfer({ id, debitAccountId: RESERVE_USD, creditAccountId: A_USD, amount: 1n, phase: "posted", uetr: "same" }));
      }
      expect((await ledger.transfersOf(db(), "same")).map((t) => t.id)).to.deep.equal(["a", "b", "c"]);
    });

    it("listAccounts filters by bic, by currency, by both, and sorts by id", async () => {
      const ids = async (filter?: { bic?: string; currency?: string }) => (await ledger.listAccounts(db(), filter)).map((a) => a.id);
      expect(await ids()).to.deep.equal([A_EUR, A_USD, B_EUR, B_USD, C_USD, FEE_USD, RESERVE_EUR, RESERVE_USD].sort());
      expect(await ids({})).to.deep.equal(await ids());
      expect(await ids({ bic: BIC_A })).to.deep.equal([A_EUR, A_USD]);
      expect(await ids({ currency: "EUR" })).to.deep.equal([A_EUR, B_EUR, RESERVE_EUR]);
      expect(await ids({ currency: "USD" })).to.deep.equal([A_USD, B_USD, C_USD, FEE_USD, RESERVE_USD]);
      expect(await ids({ bic: BIC_B, currency: "EUR" })).to.deep.equal([B_EUR]);
      expect(await ids({ bic: BIC_C, currency: "EUR" })).to.deep.equal([]);
      expect(await ids({ bic: "NOBANKXX" })).to.deep.equal([]);
      await fund("fund", A_USD, 9n);
      const [eur, usd] = await ledger.listAccounts(db(), { bic: BIC_A });
      expect(onlyBalances(eur)).to.deep.equal(balances(0n, 0n));
      expect(onlyBalances(usd)).to.deep.equal(balances(0n, 9n));
    });

    it("totals sums posted and pending debits and credits per currency", async () => {
      expect(await ledger.totals(db())).to.deep.equal(
        new Map([
          ["USD", { debits: 0n, credits: 0n }],
          ["EUR", { debits: 0n, credits: 0n }],
        ]),
      );
      await fund("f1", A_USD, 1_000n);
      await fund("f2", A_EUR, 70n, "EUR");
      ok(await transfer({ id: "h", debitAccountId: A_USD, creditAccountId: B_USD, amount: 300n, phase: "pending" }));
      ok(await transfer({ id: "h2", debitAccountId: A_USD, creditAccountId: C_USD, amount: 100n, phase: "pending" }));
      ok(await transfer({ id: "e", debitAccountId: A_EUR, creditAccountId: B_EUR, amount: 20n, phase: "posted" }));
      ok(await post("h-post", "h"));
      ok(await voidIt("h2-void", "h2"));
      ok(await transfer({ id: "h3", debitAccountId: B_USD, creditAccountId: C_USD, amount: 50n, phase: "pending" }));
      const totals = await ledger.totals(db());
      // USD: 1000 minted + 300 posted + 50 pending; EUR: 70 minted + 20 moved.
      expect(totals.get("USD")).to.deep.equal({ debits: 1_350n, credits: 1_350n });
      expect(totals.get("EUR")).to.deep.equal({ debits: 90n, credits: 90n });
      expect([...totals.keys()].sort()).to.deep.equal(["EUR", "USD"]);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("property: random transfer sequences agree with an in-memory model", () => {
    it("keeps every balance, the double-entry sums and the no-overdraft rule after every step", async function () {
      this.timeout(120_000);
      await checkModel();
    });
  });

  async function checkModel(): Promise<void> {
    const CURRENCIES = ["USD", "EUR", "GBP"] as const;
    const BICS = [BIC_A, BIC_B, BIC_C] as const;
    // Per currency: index 0 is the reserve, 1..3 the banks.
    const accountIdOf = (currency: number, index: number) =>
      index === 0 ? reserveAccountId(CURRENCIES[currency]) : bankAccountId(BICS[index - 1], CURRENCIES[currency]);

    const amountArb = fc.oneof(
      { weight: 12, arbitrary: fc.bigInt({ min: 1n, max: 40n }) },
      { weight: 1, arbitrary: fc.bigInt({ min: -3n, max: 0n }) },
      { weight: 1, arbitrary: fc.bigInt({ min: 10n ** 18n, max: 10n ** 24n }) },
    );
    const opArb = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          type: fc.constant("transfer" as const),
          phase: fc.constantFrom("posted" as const, "pending" as const),
          currency: fc.nat({ max: 2 }),
          // The reserve (index 0) often, so that the banks have funds to move.
          from: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }),
          // The credit side is `from + offset`: now and then the same account.
          offset: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 12, arbitrary: fc.integer({ min: 1, max: 3 }) }),
          // Now and then the credit side is in another currency (or the same one by chance).
          toCurrency: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 2 }) }),
          amount: amountArb,
          // Often debit a bank that has funds (chosen from the model's state by `pick`), and now and
          // then for exactly what it has available, or one more: the edge of the overdraft rule.
          fromFunded: fc.boolean(),
          pick: fc.nat(),
          amountMode: fc.oneof(
            { weight: 4, arbitrary: fc.constant("given" as const) },
            { weight: 1, arbitrary: fc.constant("available" as const) },
            { weight: 1, arbitrary: fc.constant("available+1" as const) },
          ),
        }),
      },
      {
        weight: 4,
        arbitrary: fc.record({
          type: fc.constant("resolve" as const),
          action: fc.constantFrom("post" as const, "void" as const),
          preferPending: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
          target: fc.nat(),
          reuseId: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({ type: fc.constant("retry" as const), target: fc.nat(), tamper: fc.boolean() }),
      },
    );

    interface ModelAccount extends Balances {
      currency: string;
      allowNegative: boolean;
    }
    const available = (a: Balances) => a.creditsPosted - a.debitsPosted - a.debitsPending;
    interface ModelTransfer {
      kind: LedgerTransfer["kind"];
      debit: string;
      credit: string;
      currency: string;
      amount: bigint;
      pendingId: string | null;
      result: LedgerTransfer;
    }

    await db().deleteFrom("ledger_transfers").execute();
    await db().deleteFrom("ledger_accounts").execute();
    await tx(async (trx) => {
      for (let c = 0; c < CURRENCIES.length; c++) {
        for (let i = 0; i <= BICS.length; i++) {
          const kind = i === 0 ? "reserve" : "bank";
          await ledger.ensureAccount(trx, { id: accountIdOf(c, i), kind, bic: i === 0 ? null : BICS[i - 1], currency: CURRENCIES[c] });
        }
      }
    });

    let runs = 0;
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20, size: "max" }), async (ops) => {
        runs++;
        // A fresh ledger: no transfers, every account at zero.
        await db().deleteFrom("ledger_transfers").execute();
        await db()
          .updateTable("ledger_accounts")
          .set({ debits_posted: "0", credits_posted: "0", debits_pending: "0", credits_pending: "0" })
          .execute();
        const model = new Map<string, ModelAccount>();
        for (let c = 0; c < CURRENCIES.length; c++) {
          for (let i = 0; i <= BICS.length; i++) {
            model.set(accountIdOf(c, i), { currency: CURRENCIES[c], allowNegative: i === 0, ...balances(0n, 0n) });
          }
        }
        const transfers = new Map<string, ModelTransfer>();
        const resolvedBy = new Map<string, string>();
        const attempted: string[] = [];

        /** The model of createTransfer; returns the expected error code or applies the transfer. */
        function modelCreate(input: NewTransfer): LedgerErrorCode | ModelTransfer {
          if (input.amount <= 0n) return "invalid_amount";
          if (input.debitAccountId === input.creditAccountId) return "same_account";
          const prior = transfers.get(input.id);
          if (prior) {
            const same = prior.kind === input.phase && prior.debit === input.debitAccountId && prior.credit === input.creditAccountId && prior.amount === input.amount;
            return same ? prior : "transfer_exists_with_different_fields";
          }
          const debit = model.get(input.debitAccountId);
          const credit = model.get(input.creditAccountId);
          if (!debit || !credit) return "account_not_found";
          if (debit.currency !== credit.currency) return "currency_mismatch";
          if (!debit.allowNegative && debit.debitsPosted + debit.debitsPending + input.amount > debit.creditsPosted) return "exceeds_credits";
          if (input.phase === "pending") {
            debit.debitsPending += input.amount;
            credit.creditsPending += input.amount;
          } else {
            debit.debitsPosted += input.amount;
            credit.creditsPosted += input.amount;
          }
          return {
            kind: input.phase,
            debit: input.debitAccountId,
            credit: input.creditAccountId,
            currency: debit.currency,
            amount: input.amount,
            pendingId: null,
            result: undefined as unknown as LedgerTransfer,
          };
        }

        function modelResolve(id: string, pendingId: string, kind: "post_pending" | "void_pending"): LedgerErrorCode | ModelTransfer {
          const prior = transfers.get(id);
          if (prior) return prior.kind === kind && prior.pendingId === pendingId ? prior : "transfer_exists_with_different_fields";
          const pending = transfers.get(pendingId);
          if (!pending || pending.kind !== "pending") return "pending_transfer_not_found";
          if (resolvedBy.has(pendingId)) return "pending_transfer_already_resolved";
          const debit = model.get(pending.debit)!;
          const credit = model.get(pending.credit)!;
          debit.debitsPending -= pending.amount;
          credit.creditsPending -= pending.amount;
          if (kind === "post_pending") {
            debit.debitsPosted += pending.amount;
            credit.creditsPosted += pending.amount;
          }
          return { ...pending, kind, pendingId, result: undefined as unknown as LedgerTransfer };
        }

        function compare(step: number, id: string, actual: Result<LedgerTransfer, LedgerErrorCode>, expected: LedgerErrorCode | ModelTransfer) {
          const where = `step ${step} (${id})`;
          seen.add(typeof expected === "string" ? expected : expected.result ? `retried ${expected.kind}` : expected.kind);
          if (typeof expected === "string") {
            assert.equal(actual.ok ? "ok" : actual.code, expected, where);
            return;
          }
          if (!actual.ok) assert.fail(`${where}: expected success, got ${actual.code}: ${actual.message}`);
          if (expected.result) {
            // A retry: the very first result comes back.
            assert.deepStrictEqual(actual.value, expected.result, where);
            return;
          }
          const { id: gotId, kind, debitAccountId, creditAccountId, currency, amount, pendingId, createdAt } = actual.value;
          assert.deepStrictEqual(
            { id: gotId, kind, debitAccountId, creditAccountId, currency, amount, pendingId, createdAt },
            {
              id,
              kind: expected.kind,
              debitAccountId: expected.debit,
              creditAccountId: expected.credit,
              currency: expected.currency,
              amount: expected.amount,
              pendingId: expected.pendingId,
              createdAt: clock,
            },
            where,
          );
          expected.result = actual.value;
          transfers.set(id, expected);
          if (expected.pendingId !== null) resolvedBy.set(expected.pendingId, id);
        }

        for (let step = 0; step < ops.length; step++) {
          const op = ops[step];
          const id = `t${step}`;
          if (op.type === "transfer") {
            let [currency, from] = [op.currency, op.from];
            if (op.fromFunded) {
              const funded = [...model].filter(([, a]) => !a.allowNegative && available(a) > 0n).map(([accountId]) => accountId);
              if (funded.length > 0) {
                const chosen = funded[op.pick % funded.length];
                currency = CURRENCIES.indexOf(model.get(chosen)!.currency as (typeof CURRENCIES)[number]);
                from = BICS.findIndex((bic) => bankAccountId(bic, CURRENCIES[currency]) === chosen) + 1;
              }
            }
            const debitAccountId = accountIdOf(currency, from);
            const debit = model.get(debitAccountId)!;
            const amount = op.amountMode === "given" || debit.allowNegative ? op.amount : available(debit) + (op.amountMode === "available" ? 0n : 1n);
            const input: NewTransfer = {
              id,
              debitAccountId,
              creditAccountId: accountIdOf(op.toCurrency ?? currency, (from + op.offset) % 4),
              amount,
              phase: op.phase,
            };
            attempted.push(id);
            const expected = modelCreate(input);
            compare(step, id, await transfer(input), expected);
          } else if (op.type === "resolve") {
            const pendings = [...transfers.entries()].filter(([, t]) => t.kind === "pending").map(([tid]) => tid);
            const pool = op.preferPending && pendings.length > 0 ? pendings : [...attempted, "missing"];
            const pendingId = pool[op.target % pool.length];
            // Now and then, reuse an earlier id for the resolution (a retry or a conflict).
            const resolutionId = op.reuseId !== null && attempted.length > 0 ? attempted[op.reuseId % attempted.length] : id;
            attempted.push(resolutionId);
            const kind = op.action === "post" ? "post_pending" : "void_pending";
            const expected = modelResolve(resolutionId, pendingId, kind);
            const actual = op.action === "post" ? await post(resolutionId, pendingId) : await voidIt(resolutionId, pendingId);
            compare(step, resolutionId, actual, expected);
          } else {
            const done = [...transfers.entries()];
            if (done.length === 0) continue;
            const [tid, t] = done[op.target % done.length];
            if (t.kind === "posted" || t.kind === "pending") {
              const input: NewTransfer = {
                id: tid,
                debitAccountId: t.debit,
                creditAccountId: t.credit,
                amount: op.tamper ? t.amount + 1n : t.amount,
                phase: t.kind,
              };
              compare(step, tid, await transfer(input), modelCreate(input));
            } else {
              const kind = op.tamper === (t.kind === "post_pending") ? "void_pending" : "post_pending";
              const actual = kind === "post_pending" ? await post(tid, t.pendingId!) : await voidIt(tid, t.pendingId!);
              compare(step, tid, actual, modelResolve(tid, t.pendingId!, kind));
            }
          }

          // After every step: every balance, the double-entry sums, and no overdraft. (node:assert
          // here: hardhat-chai-matchers makes chai's equality slow, and this runs thousands of times.)
          const actualAccounts = await ledger.listAccounts(db());
          assert.deepStrictEqual(
            actualAccounts.map((a) => a.id),
            [...model.keys()].sort(),
            `step ${step}`,
          );
          const expectedTotals = new Map<string, { debits: bigint; credits: bigint }>();
          for (const actual of actualAccounts) {
            const expected = model.get(actual.id)!;
            const { debitsPosted, creditsPosted, debitsPending, creditsPending } = expected;
            assert.deepStrictEqual(onlyBalances(actual), { debitsPosted, creditsPosted, debitsPending, creditsPending }, `step ${step}: ${actual.id}`);
            assert.equal(actual.allowNegative, expected.allowNegative, actual.id);
            assert.equal(actual.currency, expected.currency, actual.id);
            if (!actual.allowNegative) {
              assert.ok(actual.debitsPosted + actual.debitsPending <= actual.creditsPosted, `step ${step}: ${actual.id} overdrawn`);
            }
            const sum = expectedTotals.get(expected.currency) ?? { debits: 0n, credits: 0n };
            sum.debits += debitsPosted + debitsPending;
            sum.credits += creditsPosted + creditsPending;
            expectedTotals.set(expected.currency, sum);
          }
          const totals = await ledger.totals(db());
          assert.deepStrictEqual(totals, expectedTotals, `step ${step}: totals`);
          for (const [currency, { debits, credits }] of totals) assert.equal(debits, credits, `step ${step}: ${currency} unbalanced`);
          assert.equal(await transferCount(), transfers.size, `step ${step}: transfer rows`);
        }
      }),
      { numRuns: 100 },
    );
    expect(runs).to.be.at.least(100);
    // The generator reaches every outcome but account_not_found (all accounts exist here).
    const wanted = [
      "currency_mismatch",
      "exceeds_credits",
      "invalid_amount",
      "pending",
      "pending_transfer_already_resolved",
      "pending_transfer_not_found",
      "post_pending",
      "posted",
      "retried pending",
      "retried posted",
      "same_account",
      "transfer_exists_with_different_fields",
      "void_pending",
    ];
    expect(wanted.filter((outcome) => !seen.has(outcome)), "outcomes never reached").to.deep.equal([]);
  }

  // -------------------------------------------------------------------------------------------
  describe("concurrency", () => {
    beforeEach(standardAccounts);

    // On PostgreSQL, the first POOL_SIZE transactions wait for one another once they hold their
    // connections, so that their statements really interleave (a cold pool would otherwise run
    // them nearly one after another). SQLite serializes transactions on its one connection.
    const POOL_SIZE = 10;
    let inFlight = 0;
    let maxInFlight = 0;
    let arrived = 0;
    let openGate: () => void = () => {};
    let gateOpened: Promise<void> = Promise.resolve();

    beforeEach(() => {
      inFlight = 0;
      maxInFlight = 0;
      arrived = 0;
      gateOpened = new Promise<void>((resolve) => (openGate = resolve));
      // Never hang: should fewer connections be available, go ahead (and fail the overlap check).
      setTimeout(() => openGate(), 5_000).unref();
    });

    /** Runs one write in its own transaction, retrying a serialization failure or deadlock. */
    async function inTransaction<T>(fn: (trx: Db) => Promise<T>): Promise<{ value: T; retries: number }> {
      for (let retries = 0; ; retries++) {
        try {
          const value = await tx(async (trx) => {
            maxInFlight = Math.max(maxInFlight, ++inFlight);
            try {
              if (++arrived >= (dialect === "postgres" ? POOL_SIZE : 1)) openGate();
              await gateOpened;
              return await fn(trx);
            } finally {
              inFlight--;
            }
          });
          return { value, retries };
        } catch (error) {
          if (retries < 50 && isRetryableSqlError(error)) continue;
          throw error;
        }
      }
    }

    /** On PostgreSQL the transactions overlapped: as many as the pool holds were open at once. */
    function expectOverlap(): void {
      if (dialect === "postgres") expect(maxInFlight, "transactions open at once").to.equal(POOL_SIZE);
    }

    it("30 concurrent 1-unit debits of an account holding 10: exactly 10 succeed, no overdraft", async function () {
      this.timeout(60_000);
      await fund("fund", A_USD, 10n);
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          inTransaction((trx) =>
            ledger.createTransfer(trx, {
              id: `c${i}`,
              debitAccountId: A_USD,
              creditAccountId: i % 2 === 0 ? B_USD : C_USD,
              amount: 1n,
              phase: i % 3 === 0 ? "pending" : "posted",
            }),
          ),
        ),
      );
      const succeeded = outcomes.filter((o) => o.value.ok);
      const codes = outcomes.filter((o) => !o.value.ok).map((o) => (o.value.ok ? "ok" : o.value.code));
      expect(succeeded).to.have.length(10);
      expect(codes).to.have.length(20);
      expect(new Set(codes)).to.deep.equal(new Set(["exceeds_credits"]));

      const a = await account(A_USD);
      expect(a.creditsPosted).to.equal(10n);
      expect(a.debitsPosted + a.debitsPending).to.equal(10n);
      const okTransfers = succeeded.map((o) => (o.value.ok ? o.value.value : undefined)!);
      const sumTo = (id: string, kind: "posted" | "pending") =>
        okTransfers.filter((t) => t.creditAccountId === id && t.kind === kind).reduce((s, t) => s + t.amount, 0n);
      expect(a.debitsPosted).to.equal(sumTo(B_USD, "posted") + sumTo(C_USD, "posted"));
      expect(a.debitsPending).to.equal(sumTo(B_USD, "pending") + sumTo(C_USD, "pending"));
      expect(await account(B_USD)).to.deep.equal(balances(0n, sumTo(B_USD, "posted"), 0n, sumTo(B_USD, "pending")));
      expect(await account(C_USD)).to.deep.equal(balances(0n, sumTo(C_USD, "posted"), 0n, sumTo(C_USD, "pending")));
      expect(await transferCount()).to.equal(11);
      const totals = await ledger.totals(db());
      expect(totals.get("USD")).to.deep.equal({ debits: 20n, credits: 20n });
      failed(await transfer({ id: "after", debitAccountId: A_USD, creditAccountId: B_USD, amount: 1n, phase: "posted" }), "exceeds_credits");
      expectOverlap();
    });

    it("concurrent transfers in both directions between two accounts neither deadlock nor lose an update", async function () {
      this.timeout(60_000);
      await fund("fa", A_USD, 100n);
      await fund("fb", B_USD, 100n);
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          inTransaction((trx) =>
            ledger.createTransfer(trx, {
              id: `x${i}`,
              debitAccountId: i % 2 === 0 ? A_USD : B_USD,
              creditAccountId: i % 2 === 0 ? B_USD : A_USD,
              amount: 3n,
              phase: "posted",
            }),
          ),
        ),
      );
      outcomes.forEach((o) => ok(o.value));
      expect(await account(A_USD)).to.deep.equal(balances(60n, 160n));
      expect(await account(B_USD)).to.deep.equal(balances(60n, 160n));
      expectOverlap();
    });

    it("concurrent resolutions of one pending transfer: exactly one wins", async function () {
      this.timeout(60_000);
      await fund("fund", A_USD, 50n);
      ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 50n, phase: "pending" }));
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          inTransaction((trx) => (i % 2 === 0 ? ledger.postPending(trx, { id: `r${i}`, pendingId: "p" }) : ledger.voidPending(trx, { id: `r${i}`, pendingId: "p" }))),
        ),
      );
      const winners = outcomes.filter((o) => o.value.ok).map((o) => (o.value.ok ? o.value.value : undefined)!);
      expect(winners).to.have.length(1);
      const codes = outcomes.filter((o) => !o.value.ok).map((o) => (o.value.ok ? "ok" : o.value.code));
      expect(new Set(codes)).to.deep.equal(new Set(["pending_transfer_already_resolved"]));
      const posted = winners[0].kind === "post_pending" ? 50n : 0n;
      expect(await account(A_USD)).to.deep.equal(balances(posted, 50n, 0n, 0n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, posted, 0n, 0n));
      expect(await transferCount()).to.equal(3);
      expectOverlap();
    });

    it("concurrent retries of one transfer id all return the first transfer and move the balance once", async function () {
      this.timeout(60_000);
      await fund("fund", A_USD, 100n);
      const request: NewTransfer = { id: "same", debitAccountId: A_USD, creditAccountId: B_USD, amount: 40n, phase: "posted" };
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => inTransaction((trx) => ledger.createTransfer(trx, request))));
      const results = outcomes.map((o) => ok(o.value));
      for (const r of results) expect(r).to.deep.equal(results[0]);
      expect(await account(A_USD)).to.deep.equal(balances(40n, 100n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, 40n));
      expect(await transferCount()).to.equal(2);
      expectOverlap();
    });

    for (const action of ["post", "void"] as const) {
      it(`concurrent retries of one ${action} id all return the first result and resolve once`, async function () {
        this.timeout(60_000);
        await fund("fund", A_USD, 100n);
        ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 40n, phase: "pending" }));
        const resolve = { id: "settle", pendingId: "p" };
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () =>
            inTransaction((trx) => (action === "post" ? ledger.postPending(trx, resolve) : ledger.voidPending(trx, resolve))),
          ),
        );
        const results = outcomes.map((o) => ok(o.value));
        for (const r of results) expect(r).to.deep.equal(results[0]);
        expect(results[0]).to.include({ id: "settle", kind: action === "post" ? "post_pending" : "void_pending", pendingId: "p" });
        const posted = action === "post" ? 40n : 0n;
        expect(await account(A_USD)).to.deep.equal(balances(posted, 100n, 0n, 0n));
        expect(await account(B_USD)).to.deep.equal(balances(0n, posted, 0n, 0n));
        expect(await transferCount()).to.equal(3);
        expectOverlap();
      });
    }

    it("a post and a void racing under one id: one wins, the other is told the id is taken", async function () {
      this.timeout(60_000);
      await fund("fund", A_USD, 100n);
      ok(await transfer({ id: "p", debitAccountId: A_USD, creditAccountId: B_USD, amount: 40n, phase: "pending" }));
      const resolve = { id: "settle", pendingId: "p" };
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => inTransaction((trx) => (i % 2 === 0 ? ledger.postPending(trx, resolve) : ledger.voidPending(trx, resolve)))),
      );
      const winners = outcomes.filter((o) => o.value.ok).map((o) => (o.value.ok ? o.value.value : undefined)!);
      const codes = outcomes.filter((o) => !o.value.ok).map((o) => (o.value.ok ? "ok" : o.value.code));
      // Every request of the winning kind gets the first result; every other is a conflict.
      expect(winners).to.have.length(5);
      for (const w of winners) expect(w).to.deep.equal(winners[0]);
      expect(codes).to.deep.equal(Array(5).fill("transfer_exists_with_different_fields"));
      const posted = winners[0].kind === "post_pending" ? 40n : 0n;
      expect(await account(A_USD)).to.deep.equal(balances(posted, 100n, 0n, 0n));
      expect(await account(B_USD)).to.deep.equal(balances(0n, posted, 0n, 0n));
      expect(await transferCount()).to.equal(3);
      expectOverlap();
    });
  });
});
