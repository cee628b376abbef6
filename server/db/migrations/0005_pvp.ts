import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * Cross-currency payments settled payment-versus-payment: the two payments (legs) one quote made,
 * linked to each other. Leg A is the debtor bank's payment to the liquidity provider (its UETR the
 * client's), leg B the provider's payment to the creditor bank. Each UETR is in at most one pair.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("pvp_links")
    .addColumn("uetr_a", "text", (c) => c.primaryKey().references("payments.uetr"))
    .addColumn("uetr_b", "text", (c) => c.notNull().unique().references("payments.uetr"))
    .addColumn("quote_id", "text", (c) => c.notNull().unique().references("fx_quotes.id"))
    .addColumn("provider_bic", "text", (c) => c.notNull())
    .addColumn("creditor_bic", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("pvp_links").ifExists().execute();
}
