import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * Status changes by time: the live payment feed reads them in (at, id) order from a cursor, and
 * the dashboard's statistics read a recent range of them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("payment_status_history_at").on("payment_status_history").columns(["at", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("payment_status_history_at").ifExists().execute();
}
