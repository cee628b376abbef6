import type { Kysely } from "kysely";
import type { Database } from "../../../server/db/schema";
import type { ChainRecord, LedgerRecord, StatementRecord } from "../../../server/reconciliation/types";
import { ACCOUNT, CURRENCIES, type World } from "./world";

/** Writes reconciliation's three sides (and what they refer to) as the producers would. */

export const BANK_A = "AAAAGB2L";
export const BANK_B = "BBBBDEFF";
export const STATEMENT_ID = "stmt-1";
const CHUNK = 200;

export const tokenAddress = (currency: string) => `0xabcdef${Buffer.from(currency).toString("hex").padStart(34, "0")}`;

/** The currency of a test token address, in any letter case. */
export function currencyOfToken(address: string): string | undefined {
  return [...CURRENCIES, "JPY"].find((currency) => tokenAddress(currency).toLowerCase() === address.toLowerCase());
}

/** Banks, their accounts, the reserves, and the statement the entries belong to. */
export async function insertReferenceData(db: Kysely<Database>): Promise<void> {
  for (const bic of [BANK_A, BANK_B]) {
    await db.insertInto("participants").values({ bic, name: bic, country: "GB", address: `0x${bic}`, status: "active", webhook_url: null, webhook_secret: null, created_at: 0 }).execute();
  }
  for (const currency of [...CURRENCIES, "JPY"]) {
    for (const [id, kind, bic] of [
      [`bank:${BANK_A}:${currency}`, "bank", BANK_A],
      [`bank:${BANK_B}:${currency}`, "bank", BANK_B],
      [`reserve:${currency}`, "reserve", null],
    ] as const) {
      await db
        .insertInto("ledger_accounts")
        .values({ id, kind, bic, currency, allow_negative: kind === "reserve" ? 1 : 0, debits_posted: "0", credits_posted: "0", debits_pending: "0", credits_pending: "0", created_at: 0 })
        .execute();
    }
  }
  await insertStatement(db, { id: STATEMENT_ID, accountId: ACCOUNT, closingBalance: null, closingDate: null, createdAt: 0 });
}

export async function insertStatement(
  db: Kysely<Database>,
  s: { id: string; accountId: string; closingBalance: bigint | null; closingDate: string | null; createdAt: number },
): Promise<void> {
  await db
    .insertInto("statements")
    .values({
      id: s.id,
      kind: "camt.053",
      message_id: `msg-${s.id}`,
      statement_id: s.id,
      account_id: s.accountId,
      account_currency: null,
      servicer_bic: null,
      created_at: s.createdAt,
      from_date: null,
      to_date: null,
      opening_balance: null,
      opening_date: null,
      closing_balance: s.closingBalance?.toString() ?? null,
      closing_date: s.closingDate,
      content_hash: s.id,
      imported_by: "test",
      imported_at: s.createdAt,
    })
    .execute();
}

export async function insertChain(db: Kysely<Database>, records: readonly ChainRecord[]): Promise<void> {
  const names = { payment: "Released", mint: "Minted", burn: "Burned" } as const;
  const rows = records.map((r, i) => ({
    id: r.id,
    block_number: i + 1,
    block_hash: `0xblock${i}`,
    tx_hash: `0xtx${i}`,
    log_index: 0,
    name: names[r.kind],
    uetr: r.uetr,
    args: "{}",
    block_time: r.time,
    amount: r.amount.toString(),
    // Stored in upper case: token addresses are compared in any case.
    token: r.currency === undefined ? "0xunknown" : tokenAddress(r.currency).toUpperCase().replace("0X", "0x"),
  }));
  for (let i = 0; i < rows.length; i += CHUNK) await db.insertInto("chain_events").values(rows.slice(i, i + CHUNK)).execute();
}

export async function insertLedger(db: Kysely<Database>, records: readonly LedgerRecord[]): Promise<void> {
  const rows = records.map((r) => {
    const reserve = `reserve:${r.currency}`;
    const bank = (bic: string) => `bank:${bic}:${r.currency}`;
    const [debit, credit] =
      r.kind === "mint" ? [reserve, bank(BANK_A)] : r.kind === "burn" ? [bank(BANK_A), reserve] : r.undoes ? [bank(BANK_B), bank(BANK_A)] : [bank(BANK_A), bank(BANK_B)];
    return {
      id: r.id,
      kind: r.undoes || r.kind !== "payment" ? ("posted" as const) : ("post_pending" as const),
      debit_account_id: debit,
      credit_account_id: credit,
      currency: r.currency,
      amount: r.amount.toString(),
      pending_id: null,
      uetr: r.uetr,
      reference: null,
      created_at: r.time,
    };
  });
  for (let i = 0; i < rows.length; i += CHUNK) await db.insertInto("ledger_transfers").values(rows.slice(i, i + CHUNK)).execute();
}

export async function insertEntries(db: Kysely<Database>, entries: readonly StatementRecord[]): Promise<void> {
  const rows = entries.map((e) => ({
    id: e.id,
    statement_id: STATEMENT_ID,
    account_id: e.accountId,
    entry_ref: null,
    acct_svcr_ref: e.acctSvcrRef,
    uetr: e.uetr,
    end_to_end_id: e.endToEndId,
    instr_id: null,
    tx_id: null,
    tx_acct_svcr_ref: null,
    amount: e.amount.toString(),
    currency: e.currency,
    credit_debit: e.direction,
    status: e.status,
    booking_date: e.date,
    value_date: e.date,
    bank_tx_code: null,
    is_charge: e.isCharge ? 1 : 0,
    reversal: e.isReversal ? 1 : 0,
    counterparty_bic: null,
    imported_at: 0,
  }));
  for (let i = 0; i < rows.length; i += CHUNK) await db.insertInto("statement_entries").values(rows.slice(i, i + CHUNK)).execute();
}

/** Payments as intake stores them; only what the EndToEndId fallback reads matters here. */
export async function insertPayments(db: Kysely<Database>, payments: World["payments"]): Promise<void> {
  for (const p of payments) {
    await db
      .insertInto("payments")
      .values({
        uetr: p.uetr,
        end_to_end_id: p.endToEndId,
        debtor_bic: BANK_A,
        creditor_bic: BANK_B,
        currency: p.currency,
        amount: p.amount.toString(),
        debtor_name: null,
        debtor_account: null,
        creditor_name: null,
        creditor_account: null,
        remittance_information: null,
        instruction_id: null,
        transaction_id: null,
        message_id: null,
        expires_at: 0,
        status: "SETTLED",
        status_reason: null,
        created_at: 0,
        updated_at: 0,
      })
      .execute();
  }
}

export async function insertWorld(db: Kysely<Database>, world: World): Promise<void> {
  await insertPayments(db, world.payments);
  await insertChain(db, world.chain);
  await insertLedger(db, world.ledger);
  await insertEntries(db, world.statement);
}
