import { randomUUID } from "node:crypto";
import type { Selectable, Transaction } from "kysely";
import type { Db } from "../db/database";
import type { Database, ParticipantsTable } from "../db/schema";
import { isKnownCurrency } from "../config/currencies";
import { bankAccountId } from "../ledger/service";
import { failure, success, type Failure, type Result } from "../shared/result";
import { enqueueLock, lockPayload } from "./intents";
import { queueNetPayment } from "./net";
import { recordStatus } from "./lifecycle";
import { bicSpellings, inTransaction, readUnlockedTotal, sameBic, writeUnlockedTotal, type PaymentContext } from "./store";
import { isUuidV4 } from "../shared/uuid";
import type { Caller, NewPayment, Payment, PaymentErrorCode } from "./types";

/**
 * Intake: authorize, validate, screen and store a new payment with its lock intent, in one
 * transaction. On PostgreSQL the debtor's ledger account row is locked first, so concurrent
 * payments of one bank in one currency are checked one after another against its daily volume and
 * its available balance (the risk screen and the funds check read, then this transaction writes).
 */

/** The escrow takes amounts of 1 to 2^128 − 1. */
const MAX_AMOUNT = 2n ** 128n - 1n;

type Outcome<T> = Result<T, PaymentErrorCode>;
export type Participant = Selectable<ParticipantsTable>;

export interface Checked {
  uetr: string;
  /** The caller chose the UETR (else it was generated here). */
  callerUetr: boolean;
  expirySeconds: number;
}

export function createPayment(ctx: PaymentContext, caller: Caller, input: NewPayment, db?: Db): Promise<Outcome<Payment>> {
  const checked = checkInput(ctx, caller, input);
  if (!checked.ok) return Promise.resolve(checked);
  return inTransaction(db ?? ctx.db, (trx) => store(ctx, trx, input, checked.value));
}

/** Everything that needs no database: who may send, and the shape of the instruction. */
export function checkInput(ctx: PaymentContext, caller: Caller, input: NewPayment): Outcome<Checked> {
  if (caller.role === "bank" && !sameBic(caller.bic, input.debtorAgent)) {
    return failure("forbidden_agent", "a bank may only send payments as the debtor agent", { debtorAgent: input.debtorAgent });
  }
  if (sameBic(input.debtorAgent, input.creditorAgent)) {
    return failure("same_agent", "the debtor and creditor agents must be different banks", { bic: input.debtorAgent });
  }
  const { value, currency } = input.amount;
  if (!isKnownCurrency(currency) || !ctx.chain.tokenAddress(currency)) {
    return failure("currency_not_supported", `no deposit token settles ${currency}`, { currency });
  }
  if (typeof value !== "bigint" || value <= 0n || value > MAX_AMOUNT) {
    return failure("invalid_amount", "the amount must be a positive whole number of minor units below 2^128", { value: String(value) });
  }
  const expirySeconds = input.expiresInSeconds ?? ctx.config.defaultExpirySeconds;
  if (!Number.isSafeInteger(expirySeconds) || expirySeconds <= 0 || expirySeconds > ctx.config.maxExpirySeconds) {
    return failure("invalid_expiry", `the expiry must be 1 to ${ctx.config.maxExpirySeconds} seconds`, { expiresInSeconds: expirySeconds });
  }
  const uetr = (input.uetr ?? randomUUID()).toLowerCase();
  if (!isUuidV4(uetr)) return failure("invalid_uetr", "the UETR must be a UUID v4", { uetr: input.uetr });
  return success({ uetr, callerUetr: input.uetr !== undefined, expirySeconds });
}

/** Both agents' participants, read together (the debtor's problem is reported first). */
export async function findAgents(trx: Transaction<Database>, debtorBic: string, creditorBic: string): Promise<Outcome<[Participant, Participant]>> {
  const debtorSpellings = bicSpellings(debtorBic);
  const creditorSpellings = bicSpellings(creditorBic);
  const rows = await trx.selectFrom("participants").selectAll().where("bic", "in", [...debtorSpellings, ...creditorSpellings]).execute();
  const debtor = activeParticipant(rows, debtorSpellings, debtorBic);
  if (!debtor.ok) return debtor;
  const creditor = activeParticipant(rows, creditorSpellings, creditorBic);
  if (!creditor.ok) return creditor;
  return success([debtor.value, creditor.value]);
}

export function activeParticipant(rows: Participant[], spellings: string[], bic: string): Outcome<Participant> {
  const row = rows.find((r) => spellings.includes(r.bic));
  if (!row) return failure("unknown_participant", `${bic} is not a registered participant`, { bic });
  if (row.status !== "active") return failure("participant_suspended", `${row.bic} is suspended`, { bic: row.bic });
  return success(row);
}

export async function uetrTaken(trx: Transaction<Database>, uetr: string): Promise<boolean> {
  return (await trx.selectFrom("payments").select("uetr").where("uetr", "=", uetr).executeTakeFirst()) !== undefined;
}

export const duplicate = (uetr: string): Failure<PaymentErrorCode> => failure("duplicate_uetr", `a payment with UETR ${uetr} exists`, { uetr });

async function store(ctx: PaymentContext, trx: Transaction<Database>, input: NewPayment, checked: Checked): Promise<Outcome<Payment>> {
  const agents = await findAgents(trx, input.debtorAgent, input.creditorAgent);
  if (!agents.ok) return agents;
  const [debtor, creditor] = agents.value;
  // A UETR of the caller's may be taken; one generated here (random, 122 bits) is not, and the
  // insert below refuses a duplicate anyway.
  if (checked.callerUetr && (await uetrTaken(trx, checked.uetr))) return duplicate(checked.uetr);

  const payment = newPayment(ctx, input, checked, debtor.bic, creditor.bic);
  if (payment.settlement === "net") return queueNetPayment(ctx, trx, payment);
  const admitted = await admitLeg(ctx, trx, payment, debtor, creditor);
  if (!admitted.ok) return admitted;
  if (!(await writeLeg(ctx, trx, admitted.value))) return duplicate(checked.uetr); // a concurrent create won
  return success(admitted.value.payment);
}

/** A payment checked against its payer's risk limits and funds, ready to be written. */
export interface AdmittedLeg {
  payment: Payment;
  parties: { payer: string; payee: string; token: string };
  /** The payer's unlocked total before this payment (read, and held on PostgreSQL, by the funds check). */
  unlocked: bigint;
}

/** Reads only: the risk screen and the funds check of the payment's payer (its debtor agent). */
export async function admitLeg(
  ctx: PaymentContext,
  trx: Transaction<Database>,
  payment: Payment,
  payer: Participant,
  payee: Participant,
): Promise<Outcome<AdmittedLeg>> {
  const locked = await lockDebtorAccount(ctx, trx, payment);
  const screened = await ctx.risk.check(trx, payment);
  if (!screened.ok) return screened;
  const funded = await checkFunds(ctx, trx, payment, locked);
  if (!funded.ok) return funded;
  const token = ctx.chain.tokenAddress(payment.amount.currency)!;
  return success({ payment, parties: { payer: payer.address, payee: payee.address, token }, unlocked: funded.value.unlocked });
}

/**
 * Writes an admitted payment: its row, history, risk volume and lock intent (for a PvP leg, its
 * lock names the other leg). False if the UETR was taken meanwhile (nothing written).
 */
export async function writeLeg(ctx: PaymentContext, trx: Transaction<Database>, leg: AdmittedLeg, linkedUetr?: string): Promise<boolean> {
  const { payment } = leg;
  if (!(await insertPayment(trx, payment))) return false;
  await writeUnlockedTotal(trx, payment.debtorAgent, payment.amount.currency, leg.unlocked + payment.amount.value);
  await recordStatus(ctx, trx, payment, { status: "RECEIVED" }, { first: true });
  await ctx.risk.record(trx, payment);
  await enqueueLock(ctx, trx, payment, lockPayload(payment, leg.parties, linkedUetr));
  return true;
}

export function newPayment(ctx: PaymentContext, input: NewPayment, checked: Checked, debtorBic: string, creditorBic: string): Payment {
  const now = ctx.now();
  // Whole seconds: the escrow's expiry is in seconds, and the stored time must equal it exactly.
  const expiresAt = (Math.floor(now / 1000) + checked.expirySeconds) * 1000;
  return {
    uetr: checked.uetr,
    endToEndId: input.endToEndId,
    debtorAgent: debtorBic,
    creditorAgent: creditorBic,
    amount: { value: input.amount.value, currency: input.amount.currency },
    debtor: { name: input.debtor?.name ?? null, account: input.debtor?.account ?? null },
    creditor: { name: input.creditor?.name ?? null, account: input.creditor?.account ?? null },
    remittanceInformation: input.remittanceInformation ?? null,
    references: {
      instructionId: input.references?.instructionId ?? null,
      transactionId: input.references?.transactionId ?? null,
      messageId: input.references?.messageId ?? null,
    },
    status: "RECEIVED",
    statusReason: null,
    expiresAt,
    createdAt: now,
    updatedAt: now,
    settlement: input.settlement ?? "gross",
    priority: input.priority ?? "normal",
    windowId: null,
  };
}

/** PostgreSQL: locks the debtor's account row and returns it (read under the lock, for the funds check). */
async function lockDebtorAccount(ctx: PaymentContext, trx: Transaction<Database>, payment: Payment): Promise<DebtorAccount | undefined> {
  if (ctx.dialect !== "postgres") return undefined; // SQLite runs one write transaction at a time
  const id = bankAccountId(payment.debtorAgent, payment.amount.currency);
  const row = await trx
    .selectFrom("ledger_accounts")
    .select(["credits_posted", "debits_posted", "debits_pending"])
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  return { row };
}

/** The debtor's account as read under its lock (row undefined: it has none). */
interface DebtorAccount {
  row: { credits_posted: string; debits_posted: string; debits_pending: string } | undefined;
}

/**
 * The debtor's available balance, less what its accepted but not yet locked payments will take
 * (their running total, held on PostgreSQL until commit), must cover the amount: the lock books
 * the pending transfer later, and it must not overdraw. Returns that total, for the update.
 */
async function checkFunds(
  ctx: PaymentContext,
  trx: Transaction<Database>,
  payment: Payment,
  locked: DebtorAccount | undefined,
): Promise<Outcome<{ unlocked: bigint }>> {
  const { currency, value } = payment.amount;
  let balance: bigint;
  if (locked) {
    const row = locked.row;
    balance = row ? BigInt(row.credits_posted) - BigInt(row.debits_posted) - BigInt(row.debits_pending) : 0n;
  } else {
    const account = await ctx.ledger.getAccount(trx, bankAccountId(payment.debtorAgent, currency));
    balance = account ? account.creditsPosted - account.debitsPosted - account.debitsPending : 0n;
  }
  const unlocked = await readUnlockedTotal(ctx, trx, payment.debtorAgent, currency);
  const available = balance - unlocked;
  if (value <= available) return success({ unlocked });
  return failure("insufficient_funds", `${payment.debtorAgent} has ${available} ${currency} available, ${value} needed`, {
    available: available.toString(),
    amount: value.toString(),
    currency,
  });
}

export async function insertPayment(trx: Transaction<Database>, p: Payment): Promise<boolean> {
  const result = await trx
    .insertInto("payments")
    .values({
      uetr: p.uetr,
      end_to_end_id: p.endToEndId,
      debtor_bic: p.debtorAgent,
      creditor_bic: p.creditorAgent,
      currency: p.amount.currency,
      amount: p.amount.value.toString(),
      debtor_name: p.debtor.name,
      debtor_account: p.debtor.account,
      creditor_name: p.creditor.name,
      creditor_account: p.creditor.account,
      remittance_information: p.remittanceInformation,
      instruction_id: p.references.instructionId,
      transaction_id: p.references.transactionId,
      message_id: p.references.messageId,
      expires_at: p.expiresAt,
      status: p.status,
      status_reason: p.statusReason,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
      settlement: p.settlement,
      priority: p.priority,
      window_id: p.windowId,
    })
    .onConflict((oc) => oc.column("uetr").doNothing())
    .executeTakeFirst();
  return result.numInsertedOrUpdatedRows === 1n;
}
