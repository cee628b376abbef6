import type { Kysely, Selectable, Transaction } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { Database, PaymentStatus, PaymentsTable } from "../db/schema";
import type { LedgerService } from "../ledger/service";
import type { FxService } from "../fx/types";
import type { RiskService } from "../risk/service";
import { failure, success, type Result } from "../shared/result";
import type { Caller, Money, Payment, StatusChange } from "./types";
import type { NetWindows } from "./net";

/** Everything the payment service's parts share: its dependencies with the clock resolved. */
export interface PaymentContext {
  db: Kysely<Database>;
  dialect: Dialect;
  ledger: LedgerService;
  risk: RiskService;
  chain: { tokenAddress(currency: string): string | undefined };
  config: { defaultExpirySeconds: number; maxExpirySeconds: number; autoRelease: boolean };
  /** Quotes for cross-currency payments; without it, a payment naming a quote finds none. */
  fx?: Pick<FxService, "getQuote" | "consumeQuote">;
  /** Settlement windows for net payments; without them, a net payment is refused. */
  windows?: NetWindows;
  now: () => number;
}

/** Runs `fn` in the given transaction, or in a new one when given the database itself. */
export function inTransaction<T>(db: Db, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Database>) : db.transaction().execute(fn);
}

// ---------------------------------------------------------------------------------------------
// BICs: an 8-character BIC is its institution's `XXX` branch (as in the on-chain registry), so
// both spellings name one participant.
// ---------------------------------------------------------------------------------------------

export function canonicalBic(bic: string): string {
  const normalized = bic.replace(/\s+/g, "").toUpperCase();
  return normalized.length === 8 ? normalized + "XXX" : normalized;
}

/** The spellings a stored BIC may have: the canonical one and, for an `XXX` branch, 8 characters. */
export function bicSpellings(bic: string): string[] {
  const canonical = canonicalBic(bic);
  return canonical.endsWith("XXX") ? [canonical, canonical.slice(0, 8)] : [canonical];
}

export const sameBic = (a: string | null, b: string | null): boolean => a !== null && b !== null && canonicalBic(a) === canonicalBic(b);

/** Banks see the payments they send or receive; treasury and admin see all. */
export function canSee(caller: Caller, payment: Payment): boolean {
  return caller.role !== "bank" || sameBic(caller.bic, payment.debtorAgent) || sameBic(caller.bic, payment.creditorAgent);
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

export function toPayment(row: Selectable<PaymentsTable>): Payment {
  return {
    uetr: row.uetr,
    endToEndId: row.end_to_end_id,
    debtorAgent: row.debtor_bic,
    creditorAgent: row.creditor_bic,
    amount: { value: BigInt(row.amount), currency: row.currency },
    debtor: { name: row.debtor_name, account: row.debtor_account },
    creditor: { name: row.creditor_name, account: row.creditor_account },
    remittanceInformation: row.remittance_information,
    references: { instructionId: row.instruction_id, transactionId: row.transaction_id, messageId: row.message_id },
    status: row.status,
    statusReason: row.status_reason,
    expiresAt: Number(row.expires_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    settlement: row.settlement,
    priority: row.priority,
    windowId: row.window_id,
  };
}

/** Loads a payment; with `lock`, holds its row until the transaction ends (PostgreSQL). */
export async function loadPayment(ctx: PaymentContext, db: Db, uetr: string, lock = false): Promise<Payment | undefined> {
  let query = db.selectFrom("payments").selectAll().where("uetr", "=", uetr.toLowerCase());
  if (lock && ctx.dialect === "postgres") query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && toPayment(row);
}

export async function loadHistory(db: Db, uetr: string): Promise<StatusChange[]> {
  // Ids are `<uetr>:<sequence>`, so they order the entries made within one millisecond.
  const rows = await db.selectFrom("payment_status_history").selectAll().where("uetr", "=", uetr).orderBy("at").orderBy("id").execute();
  return rows.map((row) => ({
    status: row.status,
    at: Number(row.at),
    reason: row.reason,
    txHash: row.tx_hash,
    blockNumber: row.block_number === null ? null : Number(row.block_number),
  }));
}

/**
 * Appends a history entry; the caller holds the payment's row, so the sequence cannot race. A new
 * payment's first entry is number 1 without counting.
 */
export async function appendHistory(db: Db, uetr: string, change: StatusChange, options: { first?: boolean } = {}): Promise<void> {
  let sequence = 1;
  if (!options.first) {
    const { count } = await db
      .selectFrom("payment_status_history")
      .select((eb) => eb.fn.countAll().as("count"))
      .where("uetr", "=", uetr)
      .executeTakeFirstOrThrow();
    sequence = Number(count) + 1;
  }
  await db
    .insertInto("payment_status_history")
    .values({
      id: `${uetr}:${String(sequence).padStart(6, "0")}`,
      uetr,
      status: change.status,
      reason: change.reason,
      tx_hash: change.txHash,
      block_number: change.blockNumber,
      at: change.at,
    })
    .execute();
}

// ---------------------------------------------------------------------------------------------
// Unlocked totals: per debtor and currency, the sum of its payments accepted but not yet locked
// ---------------------------------------------------------------------------------------------

/** Statuses whose amount the debtor has committed while the chain holds nothing of it yet. */
export const UNLOCKED_STATUSES: ReadonlySet<PaymentStatus> = new Set(["RECEIVED", "SUBMITTED"]);

/** The debtor's unlocked total; on PostgreSQL its row is held until the transaction ends. */
export async function readUnlockedTotal(ctx: PaymentContext, db: Db, bic: string, currency: string): Promise<bigint> {
  let query = db.selectFrom("unlocked_totals").select("amount").where("bic", "=", bic).where("currency", "=", currency);
  if (ctx.dialect === "postgres") query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row ? BigInt(row.amount) : 0n;
}

/** Sets the total read (and held) in the same transaction by readUnlockedTotal. */
export async function writeUnlockedTotal(db: Db, bic: string, currency: string, amount: bigint): Promise<void> {
  await db
    .insertInto("unlocked_totals")
    .values({ bic, currency, amount: amount.toString() })
    .onConflict((oc) => oc.columns(["bic", "currency"]).doUpdateSet({ amount: amount.toString() }))
    .execute();
}

// ---------------------------------------------------------------------------------------------
// JSON: money as digit strings, times as ISO 8601
// ---------------------------------------------------------------------------------------------

export interface PaymentJson {
  uetr: string;
  endToEndId: string;
  debtorAgent: { bic: string };
  creditorAgent: { bic: string };
  amount: { value: string; currency: string };
  debtor: { name: string | null; account: string | null };
  creditor: { name: string | null; account: string | null };
  remittanceInformation: string | null;
  references: { instructionId: string | null; transactionId: string | null; messageId: string | null };
  status: PaymentStatus;
  statusReason: string | null;
  settlement: "gross" | "net";
  priority: "high" | "normal";
  windowId: string | null;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  history?: { status: PaymentStatus; at: string; reason: string | null; txHash: string | null; blockNumber: number | null }[];
  fx?: {
    quoteId: string;
    provider: { bic: string };
    leg: "A" | "B";
    linkedUetr: string;
    creditorAgent: { bic: string };
    source: { value: string; currency: string };
    target: { value: string; currency: string };
  };
}

export function paymentToJson(payment: Payment): PaymentJson {
  const { amount, expiresAt, createdAt, updatedAt, history, debtorAgent, creditorAgent, fx, ...rest } = payment;
  // Agents as {bic}, the shape requests use (and ISO 20022's FinInstnId/BICFI).
  const json: PaymentJson = {
    ...rest,
    debtorAgent: { bic: debtorAgent },
    creditorAgent: { bic: creditorAgent },
    amount: moneyJson(amount),
    expiresAt: iso(expiresAt),
    createdAt: iso(createdAt),
    updatedAt: iso(updatedAt),
  };
  if (history) json.history = history.map((change) => ({ ...change, at: iso(change.at) }));
  if (fx) {
    json.fx = {
      quoteId: fx.quoteId,
      provider: { bic: fx.provider },
      leg: fx.leg,
      linkedUetr: fx.linkedUetr,
      creditorAgent: { bic: fx.creditorAgent },
      source: moneyJson(fx.source),
      target: moneyJson(fx.target),
    };
  }
  return json;
}

const iso = (ms: number) => new Date(ms).toISOString();
const moneyJson = (money: Money) => ({ value: money.value.toString(), currency: money.currency });

// ---------------------------------------------------------------------------------------------
// Cursors: opaque to clients, the (created_at, uetr) of the last payment of the page
// ---------------------------------------------------------------------------------------------

export interface CursorPosition {
  createdAt: number;
  uetr: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.uetr])).toString("base64url");
}

export function decodeCursor(cursor: string): Result<CursorPosition, "invalid_cursor"> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 2 && Number.isSafeInteger(parsed[0]) && typeof parsed[1] === "string") {
      return success({ createdAt: parsed[0], uetr: parsed[1] });
    }
  } catch {
    // fall through: any undecodable cursor is the same client error
  }
  return failure("invalid_cursor", "the cursor is not one this service returned");
}
