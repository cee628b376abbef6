import type { Db } from "../db/database";
import { bankAccountId, type LedgerErrorCode, type LedgerTransfer } from "../ledger/service";
import type { Result } from "../shared/result";
import type { PaymentContext } from "./store";
import type { Payment } from "./types";

/**
 * The ledger side of a payment's lifecycle. A lock is a pending transfer from the debtor bank's
 * account to the creditor bank's; the release posts it, the refund voids it.
 *
 * Reorgs. Ledger transfers are immutable and a pending transfer resolves once, so a chain event
 * rolled back by a reorg cannot be "unposted". Instead each rollback opens a new epoch k (1, 2, ...)
 * of the payment and records compensating transfers named `<uetr>:reorg:<k>:...`:
 *
 * | rolled back | compensating transfers of epoch k                                              |
 * |-------------|--------------------------------------------------------------------------------|
 * | Locked      | `:unlock` voids the open lock (balances as before the lock)                    |
 * | Released    | `:unrelease` posts the amount back creditor → debtor, `:lock` re-opens the lock |
 * | Refunded    | `:lock` re-opens the lock (the void already restored balances)                 |
 *
 * Epoch 0 uses the plain ids `<uetr>:lock`, `<uetr>:release`, `<uetr>:refund`; epoch k uses
 * `<uetr>:reorg:<k>:lock|release|refund`. The current epoch is the highest k among the payment's
 * transfers, so it needs no column of its own, and every id is written at most once: retries
 * return the first transfer. Balances after a rollback equal those of the state returned to, and
 * the audit trail keeps both the event and its reversal, as an accountant would book a reversal.
 */

export class PaymentLedgerError extends Error {
  constructor(
    readonly uetr: string,
    readonly step: string,
    readonly ledgerCode: LedgerErrorCode,
    detail: string,
  ) {
    super(`payment ${uetr}: ledger ${step} failed (${ledgerCode}): ${detail}`);
  }
}

export function transferIds(uetr: string, epoch: number) {
  const base = epoch === 0 ? uetr : `${uetr}:reorg:${epoch}`;
  return { lock: `${base}:lock`, release: `${base}:release`, refund: `${base}:refund` };
}

/** The highest reorg epoch recorded for the payment, 0 when none. */
export async function currentEpoch(ctx: PaymentContext, db: Db, uetr: string): Promise<number> {
  const prefix = `${uetr}:reorg:`;
  let epoch = 0;
  for (const transfer of await ctx.ledger.transfersOf(db, uetr)) {
    if (!transfer.id.startsWith(prefix)) continue;
    epoch = Math.max(epoch, Number(transfer.id.slice(prefix.length).split(":")[0]));
  }
  return epoch;
}

function accounts(payment: Payment) {
  const { currency } = payment.amount;
  return { debtor: bankAccountId(payment.debtorAgent, currency), creditor: bankAccountId(payment.creditorAgent, currency) };
}

/** Ledger refusals here mean the ledger and the chain disagree: abort the caller's transaction. */
function orThrow(payment: Payment, step: string, result: Result<LedgerTransfer, LedgerErrorCode>): LedgerTransfer {
  if (!result.ok) throw new PaymentLedgerError(payment.uetr, step, result.code, result.message);
  return result.value;
}

async function ensureBankAccounts(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const { currency } = payment.amount;
  for (const bic of [payment.debtorAgent, payment.creditorAgent]) {
    await ctx.ledger.ensureAccount(db, { id: bankAccountId(bic, currency), kind: "bank", bic, currency });
  }
}

async function openLock(ctx: PaymentContext, db: Db, payment: Payment, id: string, step: string): Promise<void> {
  await ensureBankAccounts(ctx, db, payment);
  const { debtor, creditor } = accounts(payment);
  const result = await ctx.ledger.createTransfer(db, {
    id,
    debitAccountId: debtor,
    creditAccountId: creditor,
    amount: payment.amount.value,
    phase: "pending",
    uetr: payment.uetr,
    reference: step,
  });
  orThrow(payment, step, result);
}

export async function applyLock(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const epoch = await currentEpoch(ctx, db, payment.uetr);
  await openLock(ctx, db, payment, transferIds(payment.uetr, epoch).lock, "lock");
}

export async function applyRelease(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const ids = transferIds(payment.uetr, await currentEpoch(ctx, db, payment.uetr));
  orThrow(payment, "release", await ctx.ledger.postPending(db, { id: ids.release, pendingId: ids.lock }));
}

export async function applyRefund(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const ids = transferIds(payment.uetr, await currentEpoch(ctx, db, payment.uetr));
  orThrow(payment, "refund", await ctx.ledger.voidPending(db, { id: ids.refund, pendingId: ids.lock }));
}

/** Locked rolled back: void the open lock in a new epoch. */
export async function reverseLock(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const epoch = await currentEpoch(ctx, db, payment.uetr);
  const open = transferIds(payment.uetr, epoch).lock;
  const id = `${payment.uetr}:reorg:${epoch + 1}:unlock`;
  orThrow(payment, "reorg unlock", await ctx.ledger.voidPending(db, { id, pendingId: open }));
}

/** Released rolled back: move the posted amount back, then re-open the lock, in a new epoch. */
export async function reverseRelease(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const epoch = (await currentEpoch(ctx, db, payment.uetr)) + 1;
  const { debtor, creditor } = accounts(payment);
  const result = await ctx.ledger.createTransfer(db, {
    id: `${payment.uetr}:reorg:${epoch}:unrelease`,
    debitAccountId: creditor,
    creditAccountId: debtor,
    amount: payment.amount.value,
    phase: "posted",
    uetr: payment.uetr,
    reference: "reorg unrelease",
  });
  orThrow(payment, "reorg unrelease", result);
  await openLock(ctx, db, payment, transferIds(payment.uetr, epoch).lock, "reorg relock");
}

/** Refunded rolled back: the void already restored balances; re-open the lock in a new epoch. */
export async function reverseRefund(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const epoch = (await currentEpoch(ctx, db, payment.uetr)) + 1;
  await openLock(ctx, db, payment, transferIds(payment.uetr, epoch).lock, "reorg relock");
}
