import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import SqliteDatabase from "better-sqlite3";
import { BackupError, backupDatabase, checkDatabase, restoreDatabase } from "../../server/db/backup";
import { openDatabase, type DatabaseHandle } from "../../server/db/database";
import { bankAccountId, createLedgerService, reserveAccountId } from "../../server/ledger/service";

const ROOT = path.resolve(__dirname, "../..");

/** `corridor db backup` / `db restore` on real SQLite files, the relay's connection left open as it would be. */
describe("database backup and restore (SQLite)", function () {
  this.timeout(60_000);
  let dir: string;
  let databaseFile: string;
  let handle: DatabaseHandle;
  const ledger = createLedgerService({ dialect: "sqlite" });

  const transfer = async (id: string, amount: bigint) => {
    await handle.db.transaction().execute(async (trx) => {
      await ledger.ensureAccount(trx, { id: reserveAccountId("GBP"), kind: "reserve", bic: null, currency: "GBP" });
      await ledger.ensureAccount(trx, { id: bankAccountId("AAAAGB2LXXX", "GBP"), kind: "bank", bic: "AAAAGB2LXXX", currency: "GBP" });
      const made = await ledger.createTransfer(trx, { id, phase: "posted", debitAccountId: reserveAccountId("GBP"), creditAccountId: bankAccountId("AAAAGB2LXXX", "GBP"), amount });
      if (!made.ok) throw new Error(made.message);
    });
  };
  const transferIds = async (file: string) => {
    const sqlite = new SqliteDatabase(file, { readonly: true });
    try {
      return (sqlite.prepare("select id from ledger_transfers order by id").all() as { id: string }[]).map((r) => r.id);
    } finally {
      sqlite.close();
    }
  };
  const refusal = async (work: () => unknown): Promise<string> => {
    try {
      await work();
    } catch (error) {
      expect(error).to.be.instanceOf(BackupError);
      return (error as BackupError).code;
    }
    throw new Error("expected a refusal");
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "corridor-backup-"));
    databaseFile = path.join(dir, "corridor.db");
    handle = await openDatabase(databaseFile);
    await transfer("t1", 1_000n);
    await transfer("t2", 2_500n);
  });
  afterEach(async () => handle.close());

  it("backs up a live database (its WAL included) and restores it, keeping the replaced one", async () => {
    const backup = path.join(dir, "backup.db");
    const made = await backupDatabase(databaseFile, backup);
    expect(made).to.include({ file: backup, integrity: "ok", ledgerBalanced: true });
    expect(made.schema).to.match(/^\d{4}_/);
    expect(await transferIds(backup)).to.deep.equal(["t1", "t2"]);
    expect(existsSync(`${backup}-wal`), "the backup is one self-contained file").to.equal(false);

    await transfer("t3", 7n);
    await handle.close();
    const { restored, previous } = restoreDatabase(databaseFile, backup, () => Date.parse("2026-11-21T12:00:00Z"));
    expect(restored).to.include({ integrity: "ok", ledgerBalanced: true });
    expect(await transferIds(databaseFile)).to.deep.equal(["t1", "t2"]);
    expect(previous).to.equal(`${databaseFile}.pre-restore-2026-11-21T12-00-00-000Z`);
    expect(await transferIds(previous!), "the replaced database, WAL and all").to.deep.equal(["t1", "t2", "t3"]);

    // The relay opens the restored file and carries on from it.
    handle = await openDatabase(databaseFile);
    await transfer("t4", 1n);
    const accounts = await ledger.listAccounts(handle.db);
    expect(accounts.find((a) => a.id === bankAccountId("AAAAGB2LXXX", "GBP"))!.creditsPosted).to.equal(3_501n);
  });

  it("refuses to overwrite a file without --force, a PostgreSQL URL, and a missing database", async () => {
    const backup = path.join(dir, "taken.db");
    writeFileSync(backup, "keep me");
    expect(await refusal(() => backupDatabase(databaseFile, backup))).to.equal("target_exists");
    expect(readFileSync(backup, "utf8")).to.equal("keep me");
    await backupDatabase(databaseFile, backup, { force: true });
    expect(checkDatabase(backup).rows.ledgerTransfers).to.equal(2);
    expect(await refusal(() => backupDatabase("postgres://localhost/test", backup))).to.equal("postgres_not_supported");
    expect(await refusal(() => backupDatabase(path.join(dir, "none.db"), path.join(dir, "x.db")))).to.equal("database_not_found");
  });

  it("refuses a damaged, foreign or missing backup and leaves the database as it was", async () => {
    const good = path.join(dir, "good.db");
    await backupDatabase(databaseFile, good);
    const damaged = path.join(dir, "damaged.db");
    copyFileSync(good, damaged);
    const bytes = readFileSync(damaged);
    bytes.fill(0x5a, 4096, 8192); // a page of the file overwritten
    writeFileSync(damaged, bytes);
    const truncated = path.join(dir, "truncated.db");
    writeFileSync(truncated, readFileSync(good).subarray(0, 100));
    const foreign = path.join(dir, "foreign.db");
    new SqliteDatabase(foreign).exec("create table notes (text)").close();

    await handle.close();
    const before = readFileSync(databaseFile);
    expect(await refusal(() => restoreDatabase(databaseFile, damaged))).to.equal("backup_corrupt");
    expect(await refusal(() => restoreDatabase(databaseFile, truncated))).to.equal("backup_corrupt");
    expect(await refusal(() => restoreDatabase(databaseFile, foreign))).to.equal("not_a_corridor_database");
    expect(await refusal(() => restoreDatabase(databaseFile, path.join(dir, "missing.db")))).to.equal("backup_not_found");
    expect(readFileSync(databaseFile).equals(before), "the database is untouched").to.equal(true);
    handle = await openDatabase(databaseFile);
  });

  it("runs as `npx corridor db backup FILE` and `restore FILE`", async () => {
    const run = promisify(execFile);
    const env = { ...process.env, DATABASE_URL: databaseFile };
    const backup = path.join(dir, "cli.db");
    const backedUp = await run(path.join(ROOT, "bin/corridor.js"), ["db", "backup", backup], { cwd: ROOT, env });
    expect(JSON.parse(backedUp.stdout)).to.include({ "backed up": backup, integrity: "ok" });
    const again = await run(path.join(ROOT, "bin/corridor.js"), ["db", "backup", backup], { cwd: ROOT, env }).catch((error: { code: number; stderr: string }) => error);
    expect(again).to.include({ code: 1 });
    expect((again as { stderr: string }).stderr).to.match(/^target_exists: /);
    await handle.close();
    const restored = await run(path.join(ROOT, "bin/corridor.js"), ["db", "restore", backup], { cwd: ROOT, env });
    expect(restored.stdout).to.match(/"restored": /);
    expect(restored.stdout).to.match(/kept as .*pre-restore-/);
    expect(await transferIds(databaseFile)).to.deep.equal(["t1", "t2"]);
    handle = await openDatabase(databaseFile);
  });
});
