import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * FX: the rates liquidity-provider banks post (one row per provider and pair, replaced by each
 * post) and the quotes given to paying banks (open until used once by a payment, or expired).
 * Rates and amounts are text: exact decimals and minor-unit digit strings, never floats.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("fx_rates")
    .addColumn("provider_bic", "text", (c) => c.notNull().references("participants.bic"))
    .addColumn("base", "text", (c) => c.notNull())
    .addColumn("quote", "text", (c) => c.notNull())
    .addColumn("rate", "text", (c) => c.notNull())
    .addColumn("spread_bps", "integer", (c) => c.notNull())
    .addColumn("valid_from", "bigint", (c) => c.notNull())
    .addColumn("valid_until", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("fx_rates_pk", ["provider_bic", "base", "quote"])
    .execute();
  await db.schema.createIndex("fx_rates_pair").on("fx_rates").columns(["base", "quote", "valid_until"]).execute();

  await db.schema
    .createTable("fx_quotes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("bic", "text", (c) => c.notNull())
    .addColumn("provider_bic", "text", (c) => c.notNull())
    .addColumn("fixed_side", "text", (c) => c.notNull())
    .addColumn("source_currency", "text", (c) => c.notNull())
    .addColumn("source_amount", "text", (c) => c.notNull())
    .addColumn("target_currency", "text", (c) => c.notNull())
    .addColumn("target_amount", "text", (c) => c.notNull())
    .addColumn("posted_rate", "text", (c) => c.notNull())
    .addColumn("spread_bps", "integer", (c) => c.notNull())
    .addColumn("rate", "text", (c) => c.notNull())
    .addColumn("fee_amount", "text", (c) => c.notNull())
    .addColumn("fee_currency", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("used_by", "text")
    .addColumn("used_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("fx_quotes_bic_created").on("fx_quotes").columns(["bic", "created_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("fx_quotes").ifExists().execute();
  await db.schema.dropTable("fx_rates").ifExists().execute();
}
