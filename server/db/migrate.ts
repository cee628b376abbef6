import { promises as fs } from "node:fs";
import path from "node:path";
import { FileMigrationProvider, Migrator, sql, type Kysely } from "kysely";

/**
 * Serializes schema changes on one PostgreSQL server. Kysely's migrator looks at every schema to
 * find its bookkeeping tables, so a schema dropped at the same moment by another process makes it
 * fail; anything that creates or drops schemas takes this advisory lock first.
 */
export const SCHEMA_CHANGE_LOCK = 0x636f72726964; // "corrid"

/**
 * Applies every migration in ./migrations (files named NNNN_name.ts, applied in name order). On
 * PostgreSQL the bookkeeping tables live in the connection's current schema.
 */
export async function migrateToLatest(db: Kysely<any>, dialect: "sqlite" | "postgres"): Promise<void> {
  if (dialect === "sqlite") return runMigrations(db, undefined);
  await db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${SCHEMA_CHANGE_LOCK})`.execute(connection);
    try {
      const { schema } = (await sql<{ schema: string }>`select current_schema() as schema`.execute(connection)).rows[0];
      await runMigrations(connection, schema);
    } finally {
      await sql`select pg_advisory_unlock(${SCHEMA_CHANGE_LOCK})`.execute(connection);
    }
  });
}

async function runMigrations(db: Kysely<any>, migrationTableSchema: string | undefined): Promise<void> {
  const provider = new FileMigrationProvider({ fs, path, migrationFolder: path.join(__dirname, "migrations") });
  const migrator = new Migrator({ db, provider, migrationTableSchema });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${String(error)}`);
  }
}
