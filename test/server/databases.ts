import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type DatabaseHandle, type Dialect } from "../../server/db/database";
import { SCHEMA_CHANGE_LOCK } from "../../server/db/migrate";

/**
 * Real storage for tests: a fresh SQLite file, and a fresh schema on the PostgreSQL server named
 * by TEST_DATABASE_URL (default: the machine's server, database `test`). In CI the PostgreSQL
 * suite must run: there, an unreachable server fails the tests instead of skipping them.
 */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export function sqliteTestUrl(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), "corridor-test-")), "corridor.db");
}

/** Creates an empty schema and returns a URL whose connections use it. */
export async function postgresTestUrl(): Promise<string> {
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
}

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** Opens a fresh database; closing a PostgreSQL one also drops its schema. */
export async function openTestDatabase(dialect: Dialect): Promise<DatabaseHandle> {
  if (dialect === "sqlite") return openDatabase(sqliteTestUrl());
  const url = await postgresTestUrl();
  const handle = await openDatabase(url);
  return {
    ...handle,
    async close() {
      await handle.close();
      await dropTestDatabase(url);
    },
  };
}

/**
 * Drops the schema of a URL made by postgresTestUrl, once its connections are closed. SQLite test
 * files live in the system's temporary folder and are left to it.
 */
export async function dropTestDatabase(url: string): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(url)) return;
  const schema = new URL(url).searchParams.get("options")!.replace("-c search_path=", "");
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    // Migrations take this lock too: a schema is never dropped under one being migrated.
    await client.query("select pg_advisory_lock($1)", [SCHEMA_CHANGE_LOCK]);
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Runs `suite` once per dialect. The PostgreSQL run is skipped only outside CI when no server
 * answers; under CI=true a missing server is a failure.
 */
export function forEachDialect(title: string, suite: (dialect: Dialect) => void): void {
  for (const dialect of ["sqlite", "postgres"] as const) {
    describe(`${title} [${dialect}]`, function () {
      if (dialect === "postgres") {
        before(async function () {
          if (await postgresAvailable()) return;
          if (process.env.CI) throw new Error(`PostgreSQL is required in CI and did not answer at ${TEST_POSTGRES_URL}`);
          this.skip();
        });
      }
      suite(dialect);
    });
  }
}
