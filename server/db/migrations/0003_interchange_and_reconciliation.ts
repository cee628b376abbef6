import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * ISO 20022 interchange, funds-in and funds-out, and reconciliation:
 * - payments keep the pacs.008 references a bank will quote back (InstrId, TxId, MsgId);
 * - chain events get the block's time and, for events that carry them, amount and token, so that
 *   reconciliation reads columns rather than JSON;
 * - statements (camt.053 / camt.054) and their entries, as imported;
 * - funds movements (mint against a reserve credit, burn for a redemption);
 * - payment returns (pacs.004);
 * - reconciliation runs, breaks and the breaks' history.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("payments").addColumn("instruction_id", "text").execute();
  await db.schema.alterTable("payments").addColumn("transaction_id", "text").execute();
  await db.schema.alterTable("payments").addColumn("message_id", "text").execute();
  await db.schema.createIndex("payments_end_to_end").on("payments").column("end_to_end_id").execute();

  await db.schema.alterTable("chain_events").addColumn("block_time", "bigint").execute();
  await db.schema.alterTable("chain_events").addColumn("amount", "text").execute();
  await db.schema.alterTable("chain_events").addColumn("token", "text").execute();
  await db.schema.createIndex("chain_events_name_time").on("chain_events").columns(["name", "block_time"]).execute();

  await db.schema
    .createTable("statements")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("statement_id", "text", (c) => c.notNull())
    .addColumn("account_id", "text", (c) => c.notNull())
    .addColumn("account_currency", "text")
    .addColumn("servicer_bic", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("from_date", "text")
    .addColumn("to_date", "text")
    .addColumn("opening_balance", "text")
    .addColumn("opening_date", "text")
    .addColumn("closing_balance", "text")
    .addColumn("closing_date", "text")
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("imported_by", "text", (c) => c.notNull())
    .addColumn("imported_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("statements_account_closing").on("statements").columns(["account_id", "closing_date"]).execute();

  await db.schema
    .createTable("statement_entries")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("statement_id", "text", (c) => c.notNull().references("statements.id"))
    .addColumn("account_id", "text", (c) => c.notNull())
    .addColumn("entry_ref", "text")
    .addColumn("acct_svcr_ref", "text")
    .addColumn("uetr", "text")
    .addColumn("end_to_end_id", "text")
    .addColumn("instr_id", "text")
    .addColumn("tx_id", "text")
    .addColumn("tx_acct_svcr_ref", "text")
    .addColumn("amount", "text", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("credit_debit", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("booking_date", "text")
    .addColumn("value_date", "text")
    .addColumn("bank_tx_code", "text")
    .addColumn("is_charge", "integer", (c) => c.notNull())
    .addColumn("reversal", "integer", (c) => c.notNull())
    .addColumn("counterparty_bic", "text")
    .addColumn("imported_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("statement_entries_uetr").on("statement_entries").column("uetr").execute();
  await db.schema.createIndex("statement_entries_e2e").on("statement_entries").column("end_to_end_id").execute();
  await db.schema.createIndex("statement_entries_value_date").on("statement_entries").columns(["value_date", "currency"]).execute();

  await db.schema
    .createTable("funds_movements")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("direction", "text", (c) => c.notNull())
    .addColumn("bic", "text", (c) => c.notNull().references("participants.bic"))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("amount", "text", (c) => c.notNull())
    .addColumn("statement_entry_id", "text", (c) => c.unique())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_reason", "text")
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("approved_by", "text")
    .addColumn("tx_hash", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("funds_movements_status").on("funds_movements").columns(["status", "created_at"]).execute();

  await db.schema
    .createTable("payment_returns")
    .addColumn("return_uetr", "text", (c) => c.primaryKey().references("payments.uetr"))
    .addColumn("original_uetr", "text", (c) => c.notNull().unique().references("payments.uetr"))
    .addColumn("return_id", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("recon_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("from_date", "text", (c) => c.notNull())
    .addColumn("to_date", "text", (c) => c.notNull())
    .addColumn("currencies", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("counts", "text")
    .addColumn("error", "text")
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("finished_at", "bigint")
    .execute();

  await db.schema
    .createTable("recon_breaks")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("class", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("keys", "text", (c) => c.notNull())
    .addColumn("currency", "text")
    .addColumn("details", "text", (c) => c.notNull())
    .addColumn("first_run_id", "text", (c) => c.notNull())
    .addColumn("last_run_id", "text", (c) => c.notNull())
    .addColumn("first_seen_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .addColumn("resolved_at", "bigint")
    .addColumn("resolved_by", "text")
    .addColumn("resolution_note", "text")
    .execute();
  await db.schema.createIndex("recon_breaks_status_class").on("recon_breaks").columns(["status", "class"]).execute();

  await db.schema
    .createTable("recon_break_history")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("break_id", "text", (c) => c.notNull().references("recon_breaks.id"))
    .addColumn("run_id", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("class", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("note", "text")
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("recon_break_history_break").on("recon_break_history").columns(["break_id", "at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["recon_break_history", "recon_breaks", "recon_runs", "payment_returns", "funds_movements", "statement_entries", "statements"]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
  await db.schema.dropIndex("chain_events_name_time").ifExists().execute();
  for (const column of ["block_time", "amount", "token"]) await db.schema.alterTable("chain_events").dropColumn(column).execute();
  await db.schema.dropIndex("payments_end_to_end").ifExists().execute();
  for (const column of ["instruction_id", "transaction_id", "message_id"]) await db.schema.alterTable("payments").dropColumn(column).execute();
}
