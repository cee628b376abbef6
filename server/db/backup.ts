import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { sqliteFileOf } from "./database";

/** Why a backup or restore did not happen; nothing was changed. */
export class BackupError extends Error {
  constructor(
    readonly code: "postgres_not_supported" | "database_not_found" | "backup_not_found" | "target_exists" | "backup_corrupt" | "not_a_corridor_database",
    message: string,
  ) {
    super(message);
    this.name = "BackupError";
  }
}

/** What a checked database file holds. */
export interface DatabaseCheck {
  file: string;
  bytes: number;
  /** SQLite's `PRAGMA integrity_check`: "ok" or the first problems it found. */
  integrity: string;
  /** The newest schema migration applied. */
  schema: string;
  rows: { payments: number; ledgerTransfers: number; chainIntents: number; settlementWindows: number };
  /** Per currency, whether all debits equal all credits (posted and pending): the ledger's invariant. */
  ledgerBalanced: boolean;
}

/**
 * Copies the SQLite database to `target` with SQLite's online backup (consistent while the relay
 * runs and writes), checks the copy, and only then gives it its name: a backup cut short never
 * looks complete.
 */
export async function backupDatabase(databaseUrl: string, target: string, options: { force?: boolean } = {}): Promise<DatabaseCheck> {
  const file = sqliteFileOrRefuse(databaseUrl);
  if (!existsSync(file)) throw new BackupError("database_not_found", `no database at ${file}`);
  if (existsSync(target) && !options.force) throw new BackupError("target_exists", `${target} exists; pass --force to overwrite it`);
  const partial = `${target}.partial-${process.pid}`;
  const source = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    await source.backup(partial);
  } finally {
    source.close();
  }
  try {
    // A rollback journal, not WAL: the backup is then one file, with nothing beside it to lose.
    const copy = new SqliteDatabase(partial, { fileMustExist: true });
    copy.pragma("journal_mode = DELETE");
    copy.close();
    const check = checkDatabase(partial);
    syncFile(partial);
    renameSync(partial, target);
    return { ...check, file: target };
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/**
 * Replaces the database with a backup, for a stopped relay. The backup is checked first; the
 * database it replaces (with its WAL) is kept beside it as `<file>.pre-restore-<time>`, and the
 * restored file is checked again in place.
 */
export function restoreDatabase(databaseUrl: string, backup: string, now: () => number = Date.now): { restored: DatabaseCheck; previous: string | null } {
  const file = sqliteFileOrRefuse(databaseUrl);
  if (!existsSync(backup)) throw new BackupError("backup_not_found", `no backup at ${backup}`);
  checkDatabase(backup);
  const incoming = `${file}.restoring-${process.pid}`;
  copyFileSync(backup, incoming);
  syncFile(incoming);
  const previous = existsSync(file) ? `${file}.pre-restore-${new Date(now()).toISOString().replace(/[:.]/g, "-")}` : null;
  if (previous) {
    for (const suffix of ["-wal", "-shm", ""]) {
      if (existsSync(file + suffix)) renameSync(file + suffix, previous + suffix);
    }
  }
  renameSync(incoming, file);
  syncDirectory(path.dirname(path.resolve(file)));
  return { restored: checkDatabase(file), previous };
}

/** Opens a database file read-only and checks it: SQLite's integrity, Corridor's schema, a balanced ledger. */
export function checkDatabase(file: string): DatabaseCheck {
  let sqlite: SqliteDatabase.Database;
  try {
    sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new BackupError("backup_corrupt", `${file} cannot be opened as a SQLite database: ${(error as Error).message}`);
  }
  try {
    let problems: string[];
    try {
      problems = (sqlite.pragma("integrity_check") as { integrity_check: string }[]).map((row) => row.integrity_check);
    } catch (error) {
      throw new BackupError("backup_corrupt", `${file} is not a readable SQLite database: ${(error as Error).message}`);
    }
    if (problems.join() !== "ok") throw new BackupError("backup_corrupt", `${file} fails SQLite's integrity check: ${problems.slice(0, 5).join("; ")}`);
    const hasTable = (name: string) => sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
    if (!hasTable("kysely_migration") || !hasTable("payments") || !hasTable("ledger_accounts")) {
      throw new BackupError("not_a_corridor_database", `${file} is a SQLite database but not Corridor's`);
    }
    const count = (table: string) => (hasTable(table) ? Number((sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n) : 0);
    const schema = (sqlite.prepare("select name from kysely_migration order by name desc limit 1").get() as { name: string } | undefined)?.name ?? "";
    return {
      file,
      bytes: statSync(file).size,
      integrity: "ok",
      schema,
      rows: { payments: count("payments"), ledgerTransfers: count("ledger_transfers"), chainIntents: count("chain_intents"), settlementWindows: count("settlement_windows") },
      ledgerBalanced: ledgerBalanced(sqlite),
    };
  } finally {
    sqlite.close();
  }
}

function ledgerBalanced(sqlite: SqliteDatabase.Database): boolean {
  type Row = { currency: string; debits_posted: string; credits_posted: string; debits_pending: string; credits_pending: string };
  const sums = new Map<string, bigint>();
  for (const row of sqlite.prepare("select currency, debits_posted, credits_posted, debits_pending, credits_pending from ledger_accounts").iterate() as Iterable<Row>) {
    const difference = BigInt(row.debits_posted) + BigInt(row.debits_pending) - BigInt(row.credits_posted) - BigInt(row.credits_pending);
    sums.set(row.currency, (sums.get(row.currency) ?? 0n) + difference);
  }
  return [...sums.values()].every((difference) => difference === 0n);
}

function sqliteFileOrRefuse(databaseUrl: string): string {
  const file = sqliteFileOf(databaseUrl);
  if (file === null) throw new BackupError("postgres_not_supported", "DATABASE_URL is PostgreSQL: back it up with pg_dump and restore it with pg_restore");
  return file;
}

function syncFile(file: string): void {
  const fd = openSync(file, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the renames durable: a crash right after must not bring the old names back. */
function syncDirectory(dir: string): void {
  try {
    syncFile(dir);
  } catch {
    // Some filesystems refuse to fsync a directory; the rename is then as durable as they make it.
  }
}
