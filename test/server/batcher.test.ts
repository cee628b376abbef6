import { expect } from "chai";
import { sql } from "kysely";
import type { DatabaseHandle, Dialect } from "../../server/db/database";
import { createTransactionBatcher, type Transact } from "../../server/db/batcher";
import { forEachDialect, openTestDatabase } from "./databases";

forEachDialect("server/db/batcher", (dialect: Dialect) => {
  let handle: DatabaseHandle;
  let transact: Transact;

  beforeEach(async () => {
    handle = await openTestDatabase(dialect);
    transact = createTransactionBatcher(handle.db, { maxBatch: 4 }).transact;
    // The foreign key is checked at commit, so a piece of work can make the whole commit fail.
    await sql`create table test_parents (id text primary key)`.execute(handle.db);
    await sql`create table test_children (id text primary key, parent_id text references test_parents (id) deferrable initially deferred)`.execute(
      handle.db,
    );
  });
  afterEach(async () => handle.close());

  const ids = async (table: "test_parents" | "test_children") =>
    (await sql<{ id: string }>`select id from ${sql.table(table)} order by id`.execute(handle.db)).rows.map((r) => r.id);

  it("runs concurrent work in batches, in arrival order, each seeing the writes before it", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        transact(async (trx) => {
          await sql`insert into test_parents values (${`p${String(i).padStart(2, "0")}`})`.execute(trx);
          const { rows } = await sql<{ n: number | string }>`select count(*) as n from test_parents`.execute(trx);
          return Number(rows[0].n);
        }),
      ),
    );
    // Work i sees the i rows written before it: in its batch (uncommitted) or in earlier batches.
    expect(results).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await ids("test_parents")).to.have.length(10);
  });

  it("rolls back only the work that throws, and gives its caller the error", async () => {
    const outcomes = await Promise.allSettled([
      transact((trx) => sql`insert into test_parents values ('kept-1')`.execute(trx)),
      transact(async (trx) => {
        await sql`insert into test_parents values ('undone')`.execute(trx);
        throw new Error("refused after writing");
      }),
      transact((trx) => sql`insert into test_parents values ('kept-1')`.execute(trx)), // a duplicate key: fails in the database
      transact((trx) => sql`insert into test_parents values ('kept-2')`.execute(trx)),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).to.equal("refused after writing");
    expect(await ids("test_parents")).to.deep.equal(["kept-1", "kept-2"]);
  });

  it("rejects every piece of work of a batch whose commit fails, and writes none of it", async () => {
    await sql`insert into test_parents values ('earlier')`.execute(handle.db);
    const outcomes = await Promise.allSettled([
      transact((trx) => sql`insert into test_children values ('c1', 'earlier')`.execute(trx)),
      transact((trx) => sql`insert into test_children values ('c2', 'missing')`.execute(trx)), // fails at commit
      transact((trx) => sql`insert into test_children values ('c3', 'earlier')`.execute(trx)),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["rejected", "rejected", "rejected"]);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).to.match(/foreign key/i);
    expect(await ids("test_children")).to.deep.equal([]);
    // The batcher carries on with the next work.
    await transact((trx) => sql`insert into test_children values ('c4', 'earlier')`.execute(trx));
    expect(await ids("test_children")).to.deep.equal(["c4"]);
  });

  it("resolves only after the commit: a reader outside sees the write once the promise resolves", async () => {
    let seenInside: string[] | undefined;
    await transact(async (trx) => {
      await sql`insert into test_parents values ('visible')`.execute(trx);
      if (dialect === "postgres") seenInside = await ids("test_parents"); // another connection: not committed yet
    });
    if (dialect === "postgres") expect(seenInside).to.deep.equal([]);
    expect(await ids("test_parents")).to.deep.equal(["visible"]);
  });
});
