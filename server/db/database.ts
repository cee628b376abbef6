import { mkdirSync } from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase as KyselySqliteDatabase, type SqliteStatement, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./schema";
import { migrateToLatest } from "./migrate";
import { createTransactionBatcher, type Transact } from "./batcher";

export type Dialect = "sqlite" | "postgres";

/** A database or a transaction on it: services take this so callers can compose one transaction. */
export type Db = Kysely<Database> | Transaction<Database>;

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * Runs short write work in a transaction, for the hot write path (payment intake). On SQLite,
   * concurrent work shares one commit (see createTransactionBatcher); on PostgreSQL each gets its
   * own transaction on its own pooled connection, as sessions run in parallel there.
   */
  readonly transact: Transact;
  close(): Promise<void>;
}

// int8 (bigint) columns hold epoch milliseconds and counters, all far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/**
 * Opens the relay's database: PostgreSQL for `postgres://` or `postgresql://` URLs, otherwise a
 * SQLite file (a path, or `sqlite:` followed by a path) in WAL mode. Migrations are applied.
 */
export async function openDatabase(url: string, options: { poolSize?: number } = {}): Promise<DatabaseHandle> {
  const file = sqliteFileOf(url);
  const handle = file === null ? openPostgres(url, options.poolSize ?? 10) : openSqlite(file);
  try {
    await migrateToLatest(handle.db, handle.dialect);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** The SQLite file a DATABASE_URL names; null for PostgreSQL. */
export function sqliteFileOf(url: string): string | null {
  return /^postgres(ql)?:\/\//.test(url) ? null : url.replace(/^sqlite:(\/\/)?/, "");
}

function openSqlite(file: string): DatabaseHandle {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  // Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB: each checkpoint copies the latest
  // version of every page written since the last one (and syncs), so rarer checkpoints copy the
  // hot pages (index leaves, running totals) once for many commits instead of once for a few.
  sqlite.pragma("wal_autocheckpoint = 10000");
  sqlite.pragma("busy_timeout = 10000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: "sqlite", transact: createTransactionBatcher(db).transact, close: () => db.destroy() };
}

/** Prepared statements kept per SQL text; the relay's hot queries are a few dozen distinct texts. */
const STATEMENT_CACHE_SIZE = 200;
/** Longer SQL (bulk statements: one placeholder per value of many rows) is prepared each time. */
const STATEMENT_CACHE_MAX_SQL = 2_000;

/**
 * Kysely's SQLite driver prepares every query it runs, and better-sqlite3 compiles the SQL on each
 * prepare (about as long as running a simple indexed query). Statements are reusable once they have
 * run, and the driver uses one at a time (the connection is held for the whole query or stream), so
 * the statements of the SQL texts seen are kept and handed out again (oldest out, past the limit;
 * bulk statements, rare and large, are not kept).
 */
function withStatementCache(sqlite: SqliteDatabase.Database): KyselySqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    prepare(sql) {
      if (sql.length > STATEMENT_CACHE_MAX_SQL) return sqlite.prepare(sql);
      let statement = statements.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!); // the oldest
        statements.set(sql, statement);
      }
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

function openPostgres(url: string, poolSize: number): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: "postgres", transact: (work) => db.transaction().execute(work), close: () => db.destroy() };
}
