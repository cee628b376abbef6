import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("participants")
    .addColumn("bic", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("country", "text", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull().unique())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("webhook_url", "text")
    .addColumn("webhook_secret", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("key_hash", "text", (c) => c.notNull().unique())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("bic", "text", (c) => c.references("participants.bic"))
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .execute();

  await db.schema
    .createTable("payments")
    .addColumn("uetr", "text", (c) => c.primaryKey())
    .addColumn("end_to_end_id", "text", (c) => c.notNull())
    .addColumn("debtor_bic", "text", (c) => c.notNull().references("participants.bic"))
    .addColumn("creditor_bic", "text", (c) => c.notNull().references("participants.bic"))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("amount", "text", (c) => c.notNull())
    .addColumn("debtor_name", "text")
    .addColumn("debtor_account", "text")
    .addColumn("creditor_name", "text")
    .addColumn("creditor_account", "text")
    .addColumn("remittance_information", "text")
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_reason", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("payments_debtor_created").on("payments").columns(["debtor_bic", "created_at"]).execute();
  await db.schema.createIndex("payments_creditor_created").on("payments").columns(["creditor_bic", "created_at"]).execute();
  await db.schema.createIndex("payments_status_expiry").on("payments").columns(["status", "expires_at"]).execute();
  await db.schema.createIndex("payments_created").on("payments").columns(["created_at", "uetr"]).execute();

  await db.schema
    .createTable("payment_status_history")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("uetr", "text", (c) => c.notNull().references("payments.uetr"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("tx_hash", "text")
    .addColumn("block_number", "bigint")
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("payment_status_history_uetr").on("payment_status_history").columns(["uetr", "at"]).execute();

  await db.schema
    .createTable("idempotency_keys")
    .addColumn("caller", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("status_code", "integer", (c) => c.notNull())
    .addColumn("response_body", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("idempotency_keys_pk", ["caller", "key"])
    .execute();

  await db.schema
    .createTable("risk_daily_volumes")
    .addColumn("bic", "text", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("day", "text", (c) => c.notNull())
    .addColumn("amount", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("risk_daily_volumes_pk", ["bic", "currency", "day"])
    .execute();

  await db.schema
    .createTable("ledger_accounts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("bic", "text")
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("allow_negative", "integer", (c) => c.notNull())
    .addColumn("debits_posted", "text", (c) => c.notNull())
    .addColumn("credits_posted", "text", (c) => c.notNull())
    .addColumn("debits_pending", "text", (c) => c.notNull())
    .addColumn("credits_pending", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("ledger_transfers")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("debit_account_id", "text", (c) => c.notNull().references("ledger_accounts.id"))
    .addColumn("credit_account_id", "text", (c) => c.notNull().references("ledger_accounts.id"))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("amount", "text", (c) => c.notNull())
    .addColumn("pending_id", "text", (c) => c.unique().references("ledger_transfers.id"))
    .addColumn("uetr", "text")
    .addColumn("reference", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("ledger_transfers_uetr").on("ledger_transfers").column("uetr").execute();

  await db.schema
    .createTable("chain_intents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("uetr", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("lease_owner", "text")
    .addColumn("lease_until", "bigint")
    .addColumn("tx_hash", "text")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("chain_intents_due").on("chain_intents").columns(["status", "next_attempt_at"]).execute();
  await db.schema.createIndex("chain_intents_uetr").on("chain_intents").columns(["uetr", "kind"]).unique().execute();

  await db.schema
    .createTable("chain_transactions")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("signer", "text", (c) => c.notNull())
    .addColumn("nonce", "bigint", (c) => c.notNull())
    .addColumn("raw", "text", (c) => c.notNull())
    .addColumn("intent_ids", "text", (c) => c.notNull())
    .addColumn("max_fee_per_gas", "text", (c) => c.notNull())
    .addColumn("max_priority_fee_per_gas", "text", (c) => c.notNull())
    .addColumn("sent_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("chain_transactions_signer_nonce").on("chain_transactions").columns(["signer", "nonce"]).execute();

  await db.schema
    .createTable("signer_nonces")
    .addColumn("signer", "text", (c) => c.primaryKey())
    .addColumn("next_nonce", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("indexer_blocks")
    .addColumn("number", "bigint", (c) => c.primaryKey())
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("parent_hash", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("chain_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("block_number", "bigint", (c) => c.notNull())
    .addColumn("block_hash", "text", (c) => c.notNull())
    .addColumn("tx_hash", "text", (c) => c.notNull())
    .addColumn("log_index", "integer", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("uetr", "text")
    .addColumn("args", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("chain_events_block").on("chain_events").column("block_number").execute();
  await db.schema.createIndex("chain_events_uetr").on("chain_events").column("uetr").execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("bic", "text", (c) => c.notNull())
    .addColumn("event_type", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("lease_until", "bigint")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("delivered_at", "bigint")
    .execute();
  await db.schema.createIndex("webhook_deliveries_due").on("webhook_deliveries").columns(["status", "next_attempt_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "webhook_deliveries",
    "chain_events",
    "indexer_blocks",
    "signer_nonces",
    "chain_transactions",
    "chain_intents",
    "ledger_transfers",
    "ledger_accounts",
    "risk_daily_volumes",
    "idempotency_keys",
    "payment_status_history",
    "payments",
    "api_keys",
    "participants",
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
