import { expect } from "chai";
import fc from "fast-check";
import type { DatabaseHandle } from "../../../server/db/database";
import {
  breakId,
  createReconciliationService,
  type ReconBreak,
  type ReconciliationService,
  type ReconErrorCode,
} from "../../../server/reconciliation/service";
import type { ChainRecord, LedgerRecord } from "../../../server/reconciliation/types";
import type { Result } from "../../../server/shared/result";
import { forEachDialect, openTestDatabase } from "../databases";
import { currencyOfToken, insertChain, insertEntries, insertLedger, insertReferenceData, insertStatement, insertWorld } from "./rows";
import { bookedEntry, FROM, GRACE_SECONDS, NOW, TO, worldArbitrary } from "./world";

const RESERVE_ACCOUNT = "GB00RESERVE0000GBP";

function ok<T>(result: Result<T, ReconErrorCode>): T {
  if (!result.ok) expect.fail(`expected success, got ${result.code}: ${result.message}`);
  return result.value;
}

function failed(result: Result<unknown, ReconErrorCode>, code: ReconErrorCode): void {
  if (result.ok) expect.fail(`expected ${code}, got success`);
  expect(result.code).to.equal(code);
}

forEachDialect("reconciliation service", (dialect) => {
  let handle: DatabaseHandle;
  let service: ReconciliationService;
  const supply = new Map<string, bigint>();

  beforeEach(async function () {
    handle = await openTestDatabase(dialect);
    await insertReferenceData(handle.db);
    supply.clear();
    service = createReconciliationService({
      db: handle.db,
      dialect,
      currencyOfToken,
      tokenSupply: async (currency) => supply.get(currency) ?? 0n,
      config: { graceSeconds: GRACE_SECONDS, reserveAccounts: {} },
    });
  });
  afterEach(async () => handle.close());

  async function allBreaks(filter: { status?: "open" | "resolved" } = {}): Promise<ReconBreak[]> {
    const found: ReconBreak[] = [];
    let cursor: string | undefined;
    do {
      const page = ok(await service.listBreaks({ ...filter, limit: 7, cursor }));
      found.push(...page.breaks);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return found;
  }

  const run = async (overrides: { from?: string; to?: string; currencies?: string[]; now?: number } = {}) =>
    ok(await service.run({ from: FROM, to: TO, requestedBy: "ops@corridor", now: NOW, ...overrides }));

  it("reports exactly the injected breaks of random worlds read from the three tables", async function () {
    const worlds = fc.sample(worldArbitrary({ maxItems: 40, withFaults: true }), { numRuns: 3, seed: 20250301 });
    for (const world of worlds) {
      await handle.close();
      handle = await openTestDatabase(dialect);
      await insertReferenceData(handle.db);
      await insertWorld(handle.db, world);
      service = createReconciliationService({ db: handle.db, dialect, currencyOfToken, tokenSupply: async () => 0n, config: { graceSeconds: GRACE_SECONDS, reserveAccounts: {} } });
      const theRun = await run();
      const breaks = await allBreaks();
      const expected = [...world.expected].map(([key, cls]) => ({ id: breakId(key), class: cls })).sort((a, b) => a.id.localeCompare(b.id));
      expect(breaks.map((b) => ({ id: b.id, class: b.class }))).to.deep.equal(expected);
      expect(theRun.status).to.equal("completed");
      const counted = Object.values(theRun.counts!.breaks).reduce((a, b) => a + (b ?? 0), 0);
      expect(counted).to.equal(world.expected.size);
    }
  });

  describe("a break's life", function () {
    const uetr = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
    const time = Date.parse("2025-03-02T09:30:00Z");
    const chain: ChainRecord = { id: "ev-1", kind: "payment", uetr, amount: 10_000n, currency: "GBP", time };
    const ledger: LedgerRecord = { id: `${uetr}:release`, kind: "payment", uetr, amount: 10_000n, currency: "GBP", time, undoes: false };
    const entry = (id: string, amount: bigint) => bookedEntry(id, { uetr, amount });
    const id = breakId(`uetr:${uetr}`);

    it("opens, resolves, reopens, reclassifies under one id, and clears when the sides agree", async function () {
      await insertChain(handle.db, [chain]);
      await insertLedger(handle.db, [ledger]);
      await insertEntries(handle.db, [entry("st-1", 9_999n)]);

      const first = await run();
      const opened = (await service.getBreak(id))!;
      expect(opened).to.deep.include({ class: "amount_mismatch", status: "open", currency: "GBP", firstRunId: first.id, lastRunId: first.id });
      expect(opened.keys).to.deep.equal({ uetr });
      expect(opened.details).to.deep.include({ chainAmount: "10000", ledgerAmount: "10000", statementAmount: "9999", date: "2025-03-02" });

      const resolved = ok(await service.resolveBreak(id, { note: "bank fee deducted, agreed with bank", actor: "alice" }));
      expect(resolved).to.deep.include({ status: "resolved", resolvedBy: "alice", resolutionNote: "bank fee deducted, agreed with bank" });
      expect(ok(await service.resolveBreak(id, { note: "bank fee deducted, agreed with bank", actor: "alice" }))).to.deep.equal(resolved);
      failed(await service.resolveBreak(id, { note: "other", actor: "bob" }), "break_already_resolved");
      failed(await service.resolveBreak("0".repeat(64), { note: "x", actor: "bob" }), "break_not_found");

      const second = await run();
      expect(await service.getBreak(id)).to.deep.include({ status: "open", class: "amount_mismatch", lastRunId: second.id, resolvedBy: null });

      await handle.db.deleteFrom("statement_entries").execute();
      await run();
      expect(await service.getBreak(id)).to.deep.include({ id, status: "open", class: "missing_in_statement" });

      await insertEntries(handle.db, [entry("st-2", 10_000n)]);
      const fourth = await run();
      const cleared = (await service.getBreak(id))!;
      expect(cleared).to.deep.include({ status: "resolved", resolvedBy: "reconciliation", resolutionNote: `not found by run ${fourth.id}` });
      expect(cleared.history!.map((h) => [h.action, h.class, h.status, h.actor])).to.deep.equal([
        ["opened", "amount_mismatch", "open", "reconciliation"],
        ["resolved", "amount_mismatch", "resolved", "alice"],
        ["reopened", "amount_mismatch", "open", "reconciliation"],
        ["reclassified", "missing_in_statement", "open", "reconciliation"],
        ["cleared", "missing_in_statement", "resolved", "reconciliation"],
      ]);
      expect(fourth.counts).to.deep.include({ matchedItems: 1, items: 1, breaks: {} });
    });

    it("leaves a break a run does not cover as it is", async function () {
      await insertChain(handle.db, [chain]);
      await insertLedger(handle.db, [ledger]);
      await run();
      await run({ from: "2025-03-03", to: "2025-03-03" });
      await run({ currencies: ["EUR"] });
      expect(await service.getBreak(id)).to.deep.include({ status: "open", class: "missing_in_statement" });
    });

    it("reconciles a payment settled the day before with the statement of the run's day, and not an unmatched one", async function () {
      const dayBefore = Date.parse("2025-02-28T23:00:00Z");
      await insertChain(handle.db, [{ ...chain, time: dayBefore }, { ...chain, id: "ev-stray", uetr: "1b2c3d4e-0000-4000-8000-000000000001", time: dayBefore }]);
      await insertLedger(handle.db, [{ ...ledger, time: dayBefore }]);
      await insertEntries(handle.db, [{ ...entry("st-3", 10_000n), date: FROM }]);
      const theRun = await run({ from: FROM, to: FROM });
      expect(theRun.counts).to.deep.include({ items: 1, matchedItems: 1, breaks: {} });
      expect(await allBreaks()).to.deep.equal([]);
    });
  });

  describe("proof of reserves", function () {
    beforeEach(async function () {
      service = createReconciliationService({
        db: handle.db,
        dialect,
        currencyOfToken,
        tokenSupply: async (currency) => supply.get(currency) ?? 0n,
        config: { graceSeconds: GRACE_SECONDS, reserveAccounts: { GBP: RESERVE_ACCOUNT } },
      });
      await insertStatement(handle.db, { id: "res-old", accountId: RESERVE_ACCOUNT, closingBalance: 1n, closingDate: "2025-03-01", createdAt: 1 });
      await insertStatement(handle.db, { id: "res-new", accountId: RESERVE_ACCOUNT, closingBalance: 100_000n, closingDate: "2025-03-03", createdAt: 2 });
      await handle.db.updateTable("ledger_accounts").set({ debits_posted: "120000", credits_posted: "20000" }).where("id", "=", "reserve:GBP").execute();
      supply.set("GBP", 100_000n);
    });

    const reserveBreak = () => service.getBreak(breakId("reserves:GBP"));

    it("finds nothing when supply, the latest statement balance and the ledger reserve agree", async function () {
      const theRun = await run();
      expect(theRun.counts).to.deep.include({ reservesChecked: 1, breaks: {} });
      expect(await reserveBreak()).to.equal(undefined);
    });

    it("catches a mint without a reserve credit", async function () {
      supply.set("GBP", 150_000n);
      await handle.db.updateTable("ledger_accounts").set({ debits_posted: "170000" }).where("id", "=", "reserve:GBP").execute();
      await run();
      const found = (await reserveBreak())!;
      expect(found).to.deep.include({ class: "reserve_mismatch", currency: "GBP", status: "open" });
      expect(found.details).to.deep.include({ tokenSupply: "150000", statementBalance: "100000", statementDate: "2025-03-03", ledgerBalance: "150000" });
    });

    it("catches a reserve debit without a burn, and clears once the burn is booked", async function () {
      await insertStatement(handle.db, { id: "res-debit", accountId: RESERVE_ACCOUNT, closingBalance: 70_000n, closingDate: "2025-03-03", createdAt: 3 });
      await run();
      expect((await reserveBreak())!.details).to.deep.include({ tokenSupply: "100000", statementBalance: "70000", ledgerBalance: "100000" });
      supply.set("GBP", 70_000n);
      await handle.db.updateTable("ledger_accounts").set({ credits_posted: "50000" }).where("id", "=", "reserve:GBP").execute();
      await run();
      expect(await reserveBreak()).to.deep.include({ status: "resolved", resolvedBy: "reconciliation" });
    });

    it("reports a reserve account with no statement", async function () {
      await handle.db.deleteFrom("statements").where("account_id", "=", RESERVE_ACCOUNT).execute();
      await run({ currencies: ["GBP"] });
      expect((await reserveBreak())!.details).to.deep.include({ statementBalance: null, statementDate: null });
    });
  });

  it("refuses bad ranges, currencies, classes and cursors; lists runs newest first", async function () {
    failed(await service.run({ from: "2025-03-05", to: "2025-03-01", requestedBy: "x" }), "invalid_date_range");
    failed(await service.run({ from: "2025-02-30", to: "2025-03-01", requestedBy: "x" }), "invalid_date_range");
    failed(await service.run({ from: "2025-03-01", to: "2025-03-01", currencies: ["XXX"], requestedBy: "x" }), "unknown_currency");
    failed(await service.listBreaks({ class: "nonsense", limit: 10 }), "invalid_break_class");
    failed(await service.listBreaks({ cursor: "not-a-cursor", limit: 10 }), "invalid_cursor");
    const first = await run();
    const second = await run({ currencies: ["GBP", "GBP"] });
    expect(second.currencies).to.deep.equal(["GBP"]);
    expect((await service.listRuns({ limit: 10 })).map((r) => r.id)).to.deep.equal([second.id, first.id]);
    expect(await service.getRun(first.id)).to.deep.include({ status: "completed", requestedBy: "ops@corridor", from: FROM, to: TO });
  });
});
