import { sql, type Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * Settlement windows. A payment sent with `settlement: "net"` joins its currency's open window as a
 * queued obligation (`payments.window_id`); at close the window's feasible set is fixed, each
 * included payment gets its Merkle leaf (`window_payments`), debtor banks sign the window's
 * positions (`window_approvals`, per round: a recomputation after an exclusion starts a new round),
 * and NettingSettlement settles the net amounts. One open window per currency at a time.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("payments").addColumn("settlement", "text", (c) => c.notNull().defaultTo("gross")).execute();
  await db.schema.alterTable("payments").addColumn("priority", "text", (c) => c.notNull().defaultTo("normal")).execute();
  await db.schema.alterTable("payments").addColumn("window_id", "text").execute();
  await db.schema.createIndex("payments_window").on("payments").columns(["window_id", "status"]).execute();

  await db.schema
    .createTable("settlement_windows")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("sequence", "integer", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("round", "integer", (c) => c.notNull())
    .addColumn("opened_at", "bigint", (c) => c.notNull())
    .addColumn("closes_at", "bigint", (c) => c.notNull())
    .addColumn("closed_at", "bigint")
    .addColumn("approval_deadline", "bigint")
    .addColumn("excluded_bics", "text", (c) => c.notNull())
    .addColumn("payments_root", "text")
    .addColumn("positions", "text")
    .addColumn("deferred", "text")
    .addColumn("payment_count", "integer", (c) => c.notNull())
    .addColumn("gross_total", "text", (c) => c.notNull())
    .addColumn("tx_hash", "text")
    .addColumn("block_number", "bigint")
    .addColumn("settled_at", "bigint")
    .addColumn("failure_reason", "text")
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("settlement_windows_sequence", ["currency", "sequence"])
    .execute();
  await db.schema.createIndex("settlement_windows_state").on("settlement_windows").columns(["state", "closes_at"]).execute();
  // The one open window of a currency: a concurrent second open loses on this index.
  await db.schema
    .createIndex("settlement_windows_one_open")
    .on("settlement_windows")
    .column("currency")
    .unique()
    .where(sql.ref("state"), "=", "OPEN")
    .execute();

  await db.schema
    .createTable("window_payments")
    .addColumn("window_id", "text", (c) => c.notNull().references("settlement_windows.id"))
    .addColumn("uetr", "text", (c) => c.notNull().references("payments.uetr"))
    .addColumn("leaf_index", "integer", (c) => c.notNull())
    .addColumn("leaf_hash", "text", (c) => c.notNull())
    .addColumn("debtor", "text", (c) => c.notNull())
    .addColumn("creditor", "text", (c) => c.notNull())
    .addColumn("token", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("window_payments_pk", ["window_id", "uetr"])
    .execute();
  await db.schema.createIndex("window_payments_uetr").on("window_payments").column("uetr").execute();

  await db.schema
    .createTable("window_approvals")
    .addColumn("window_id", "text", (c) => c.notNull().references("settlement_windows.id"))
    .addColumn("round", "integer", (c) => c.notNull())
    .addColumn("bic", "text", (c) => c.notNull())
    .addColumn("signature", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("window_approvals_pk", ["window_id", "round", "bic"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("window_approvals").ifExists().execute();
  await db.schema.dropTable("window_payments").ifExists().execute();
  await db.schema.dropTable("settlement_windows").ifExists().execute();
  await db.schema.dropIndex("payments_window").ifExists().execute();
  await db.schema.alterTable("payments").dropColumn("window_id").execute();
  await db.schema.alterTable("payments").dropColumn("priority").execute();
  await db.schema.alterTable("payments").dropColumn("settlement").execute();
}
