import { expect } from "chai";
import type { DatabaseHandle, Dialect } from "../../server/db/database";
import { parseCamt } from "../../server/iso20022/camt";
import { createStatementService, type StatementService } from "../../server/statements/service";
import { C105, camt054, sample } from "../support/iso-messages";
import { forEachDialect, openTestDatabase } from "./databases";

forEachDialect("statements: camt.053 / camt.054 stored as received", (dialect: Dialect) => {
  let handle: DatabaseHandle;
  let statements: StatementService;
  let seen: string[];

  beforeEach(async () => {
    handle = await openTestDatabase(dialect);
    seen = [];
    statements = createStatementService({ db: handle.db, onNewEntry: async (_db, entry) => void seen.push(entry.id) });
  });
  afterEach(async () => handle.close());

  const rows = () => handle.db.selectFrom("statement_entries").selectAll().orderBy("id").execute();

  it("stores the c105 camt.053 with its balances and every entry's references, the CHRG entry flagged", async () => {
    const imported = await statements.import(handle.db, parseCamt(C105.camt053()), "test");
    expect(imported.ok && imported.value.map((s) => [s.created, s.entries])).to.deep.equal([[true, 2]]);
    const statement = await handle.db.selectFrom("statements").selectAll().executeTakeFirstOrThrow();
    expect(statement).to.deep.include({ kind: "camt.053", opening_balance: "-1000", closing_balance: "-247000", closing_date: C105.valueDate });
    const [payment, charge] = await rows();
    expect(payment).to.deep.include({ uetr: C105.uetr, amount: "245000", currency: "GBP", credit_debit: "DBIT", status: "BOOK", value_date: C105.valueDate, is_charge: 0, reversal: 0, acct_svcr_ref: "ABKREF-125646" });
    expect(charge).to.deep.include({ uetr: C105.uetr, amount: "1000", is_charge: 1, bank_tx_code: "PMNT/ICDT/CHRG" });
    expect(seen).to.deep.equal([payment.id, charge.id]);
  });

  it("changes nothing when the same statement is imported again", async () => {
    await statements.import(handle.db, parseCamt(C105.camt053()), "test");
    const before = await rows();
    const again = await statements.import(handle.db, parseCamt(C105.camt053()), "someone else");
    expect(again.ok && again.value.map((s) => s.created)).to.deep.equal([false]);
    expect(await rows()).to.deep.equal(before);
    expect(seen).to.have.length(2);
  });

  it("refuses the same statement id with other content (statement_conflict), keeping the first", async () => {
    await statements.import(handle.db, parseCamt(C105.camt053()), "test");
    const before = await rows();
    const altered = parseCamt(C105.camt053().replace(">2450<", ">2451<"));
    const conflict = await statements.import(handle.db, altered, "test");
    expect(conflict.ok).to.equal(false);
    expect(!conflict.ok && conflict.code).to.equal("statement_conflict");
    expect(await rows()).to.deep.equal(before);
  });

  it("stores the c54 camt.054 notification without balances", async () => {
    const imported = await statements.import(handle.db, parseCamt(sample("cbpr-c54-camt054-BtoA.xml")), "test");
    expect(imported.ok && imported.value[0].kind).to.equal("camt.054");
    const statement = await handle.db.selectFrom("statements").selectAll().executeTakeFirstOrThrow();
    expect(statement.opening_balance).to.equal(null);
    expect((await rows()).length).to.be.greaterThan(0);
  });

  it("rolls back a whole message when one of its statements conflicts", async () => {
    const first = camt054("GB29NWBK60161331926819", [{ amount: "10.00", currency: "GBP", creditDebit: "CRDT", counterpartyBic: "ALPHGB2LXXX" }]);
    const message = parseCamt(first);
    await statements.import(handle.db, message, "test");
    const extra = { ...message.statements[0], statementId: "ANOTHER-ONE" };
    const changed = { ...message.statements[0], entries: [] };
    const result = await statements.import(handle.db, { ...message, statements: [extra, changed] }, "test");
    expect(!result.ok && result.code).to.equal("statement_conflict");
    expect(await handle.db.selectFrom("statements").select("statement_id").execute()).to.have.length(1);
  });
});
