import type { Transaction } from "kysely";
import type { Db } from "../db/database";
import type { Database, PaymentStatus } from "../db/schema";
import { enqueueWebhooks } from "../webhooks/outbox";
import { enqueueRefund } from "./intents";
import { enqueueSettlement } from "./pvp";
import { applyLock, applyRefund, applyRelease, reverseLock, reverseRefund, reverseRelease } from "./ledger-steps";
import {
  UNLOCKED_STATUSES,
  appendHistory,
  inTransaction,
  loadHistory,
  loadPayment,
  paymentToJson,
  readUnlockedTotal,
  toPayment,
  writeUnlockedTotal,
  type PaymentContext,
} from "./store";
import type { ChainObservation, Payment, PaymentService } from "./types";

/**
 * Status changes and the chain hooks. Every change updates the payment, appends its history and
 * enqueues a `payment.status_changed` webhook for both banks, in the caller's transaction.
 *
 * Hooks hold the payment's row for the transaction (PostgreSQL), decide from its current status,
 * and do nothing when the change is already there, so each is idempotent. The chain is the truth:
 * a lock observed for a payment we cancelled or rejected (the submitter had already sent it) is
 * still booked, without auto-release; its refund at expiry returns the funds. A release or refund
 * observed before its lock books the lock first.
 */

export const STATUS_CHANGED = "payment.status_changed";

/** Refunds enqueued per call; a scheduler calls again for the rest. */
const REFUND_BATCH = 500;

const BEFORE_LOCK: ReadonlySet<PaymentStatus> = new Set(["RECEIVED", "SUBMITTED", "REJECTED", "CANCELLED"]);

/** Two chain events that cannot both have happened, e.g. a release of a refunded payment. */
export class PaymentStateError extends Error {
  readonly code = "payment_state_conflict";
}

interface Change {
  status: PaymentStatus;
  reason?: string | null;
  txHash?: string | null;
  blockNumber?: number | null;
}

/**
 * Records a payment's (new or first) status: history and webhooks for both banks. `first`: the
 * payment was just created, so this is its first history entry.
 */
export async function recordStatus(ctx: PaymentContext, db: Db, payment: Payment, change: Change, options: { first?: boolean } = {}): Promise<void> {
  await appendHistory(
    db,
    payment.uetr,
    {
      status: change.status,
      at: payment.updatedAt,
      reason: change.reason ?? null,
      txHash: change.txHash ?? null,
      blockNumber: change.blockNumber ?? null,
    },
    options,
  );
  const payload = { ...paymentToJson(payment) };
  await enqueueWebhooks(
    db,
    [payment.debtorAgent, payment.creditorAgent].map((bic) => ({ bic, eventType: STATUS_CHANGED, payload })),
    payment.updatedAt,
  );
}

export async function transition(ctx: PaymentContext, db: Db, payment: Payment, change: Change): Promise<Payment> {
  const updated: Payment = { ...payment, status: change.status, statusReason: change.reason ?? null, updatedAt: ctx.now() };
  await db
    .updateTable("payments")
    .set({ status: updated.status, status_reason: updated.statusReason, updated_at: updated.updatedAt })
    .where("uetr", "=", payment.uetr)
    .execute();
  const wasUnlocked = UNLOCKED_STATUSES.has(payment.status);
  if (wasUnlocked !== UNLOCKED_STATUSES.has(change.status)) {
    // Locked, rejected or cancelled: no longer counted against the debtor's funds (or counted again
    // when a reorg returns the payment to before its lock).
    const { currency, value } = payment.amount;
    const total = await readUnlockedTotal(ctx, db, payment.debtorAgent, currency);
    await writeUnlockedTotal(db, payment.debtorAgent, currency, wasUnlocked ? total - value : total + value);
  }
  await recordStatus(ctx, db, updated, change);
  return updated;
}

/**
 * Many payments to one status at once (a settled window's): per 500 payments one update, one
 * history insert and one webhook insert. The caller holds the rows; the change must not cross
 * the unlocked-total boundary (see UNLOCKED_STATUSES), which a net payment never does.
 */
export async function transitionMany(ctx: PaymentContext, db: Db, payments: readonly Payment[], change: Change): Promise<void> {
  const CHUNK = 500;
  const at = ctx.now();
  for (let k = 0; k < payments.length; k += CHUNK) {
    const chunk = payments.slice(k, k + CHUNK).map((p): Payment => ({ ...p, status: change.status, statusReason: change.reason ?? null, updatedAt: at }));
    const uetrs = chunk.map((p) => p.uetr);
    await db.updateTable("payments").set({ status: change.status, status_reason: change.reason ?? null, updated_at: at }).where("uetr", "in", uetrs).execute();
    const counts = await db
      .selectFrom("payment_status_history")
      .select(["uetr", (eb) => eb.fn.countAll().as("count")])
      .where("uetr", "in", uetrs)
      .groupBy("uetr")
      .execute();
    const entries = new Map(counts.map((c) => [c.uetr, Number(c.count)]));
    await db
      .insertInto("payment_status_history")
      .values(
        chunk.map((p) => ({
          id: `${p.uetr}:${String((entries.get(p.uetr) ?? 0) + 1).padStart(6, "0")}`,
          uetr: p.uetr,
          status: change.status,
          reason: change.reason ?? null,
          tx_hash: change.txHash ?? null,
          block_number: change.blockNumber ?? null,
          at,
        })),
      )
      .execute();
    const events = chunk.flatMap((p) => {
      const payload = { ...paymentToJson(p) };
      return [p.debtorAgent, p.creditorAgent].map((bic) => ({ bic, eventType: STATUS_CHANGED, payload }));
    });
    await enqueueWebhooks(db, events, at);
  }
}

const observed = (o: ChainObservation, status: PaymentStatus, reason: string | null = null): Change => ({
  status,
  reason,
  txHash: o.txHash,
  blockNumber: o.blockNumber,
});

type Hook = (trx: Transaction<Database>, payment: Payment) => Promise<boolean>;

export function createChainHooks(
  ctx: PaymentContext,
): Omit<PaymentService, "create" | "get" | "list" | "cancel" | "confirm" | "requeueNet" | "settleNet" | "unsettleNet"> {
  /** Runs a hook on the locked payment; unknown UETRs (payments made directly on chain) are ignored. */
  const withPayment = (db: Db, uetr: string, hook: Hook): Promise<boolean> =>
    inTransaction(db, async (trx) => {
      const payment = await loadPayment(ctx, trx, uetr, true);
      return payment ? hook(trx, payment) : false;
    });

  async function lock(trx: Transaction<Database>, payment: Payment, o: ChainObservation, autoRelease: boolean): Promise<Payment> {
    await applyLock(ctx, trx, payment);
    const late = payment.status === "CANCELLED" || payment.status === "REJECTED";
    const locked = await transition(ctx, trx, payment, observed(o, "LOCKED", late ? `locked on chain after ${payment.status}` : null));
    if (autoRelease && ctx.config.autoRelease && !late) await enqueueSettlement(ctx, trx, locked);
    return locked;
  }

  /** A release or refund proves a lock: book it first if we never saw it. */
  async function lockedFor(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<Payment> {
    return BEFORE_LOCK.has(payment.status) ? lock(trx, payment, o, false) : payment;
  }

  async function release(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<boolean> {
    if (payment.status === "SETTLED") return false;
    if (payment.status === "REFUNDED") throw new PaymentStateError(`payment ${payment.uetr} was refunded; it cannot be released`);
    const locked = await lockedFor(trx, payment, o);
    await applyRelease(ctx, trx, locked);
    await transition(ctx, trx, locked, observed(o, "SETTLED"));
    return true;
  }

  async function refund(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<boolean> {
    if (payment.status === "REFUNDED") return false;
    if (payment.status === "SETTLED") throw new PaymentStateError(`payment ${payment.uetr} was released; it cannot be refunded`);
    const locked = await lockedFor(trx, payment, o);
    await applyRefund(ctx, trx, locked);
    await transition(ctx, trx, locked, observed(o, "REFUNDED", "expired"));
    return true;
  }

  async function unrelease(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<Payment | undefined> {
    if (payment.status !== "SETTLED") return undefined;
    await reverseRelease(ctx, trx, payment);
    return transition(ctx, trx, payment, observed(o, "LOCKED", `release in block ${o.blockNumber} rolled back by a chain reorganization`));
  }

  async function unrefund(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<Payment | undefined> {
    if (payment.status !== "REFUNDED") return undefined;
    await reverseRefund(ctx, trx, payment);
    return transition(ctx, trx, payment, observed(o, "LOCKED", `refund in block ${o.blockNumber} rolled back by a chain reorganization`));
  }

  /** A rolled-back lock returns to the last status the payment had before it was locked. */
  async function statusBeforeLock(trx: Transaction<Database>, uetr: string): Promise<PaymentStatus> {
    const history = await loadHistory(trx, uetr);
    return [...history].reverse().find((change) => BEFORE_LOCK.has(change.status))?.status ?? "RECEIVED";
  }

  /** Everything after the lock was in later blocks, so it is rolled back first. */
  async function unlock(trx: Transaction<Database>, payment: Payment, o: ChainObservation): Promise<boolean> {
    const locked = (await unrelease(trx, payment, o)) ?? (await unrefund(trx, payment, o)) ?? payment;
    if (locked.status !== "LOCKED") return false;
    await reverseLock(ctx, trx, locked);
    const previous = await statusBeforeLock(trx, locked.uetr);
    await transition(ctx, trx, locked, observed(o, previous, `lock in block ${o.blockNumber} rolled back by a chain reorganization`));
    return true;
  }

  return {
    markSubmitted: (db, s) =>
      withPayment(db, s.uetr, async (trx, payment) => {
        if (payment.status !== "RECEIVED") return false; // later news (a lock, a rejection) wins
        await transition(ctx, trx, payment, { status: "SUBMITTED", txHash: s.txHash });
        return true;
      }),

    markRejected: (db, uetr, reason) =>
      withPayment(db, uetr, async (trx, payment) => {
        if (payment.status !== "RECEIVED" && payment.status !== "SUBMITTED") return false;
        await transition(ctx, trx, payment, { status: "REJECTED", reason });
        return true;
      }),

    onLocked: (db, o) =>
      withPayment(db, o.uetr, async (trx, payment) => {
        if (!BEFORE_LOCK.has(payment.status)) return false;
        await lock(trx, payment, o, true);
        return true;
      }),

    onReleased: (db, o) => withPayment(db, o.uetr, (trx, payment) => release(trx, payment, o)),
    onRefunded: (db, o) => withPayment(db, o.uetr, (trx, payment) => refund(trx, payment, o)),
    unapplyLocked: (db, o) => withPayment(db, o.uetr, (trx, payment) => unlock(trx, payment, o)),
    unapplyReleased: (db, o) => withPayment(db, o.uetr, async (trx, payment) => (await unrelease(trx, payment, o)) !== undefined),
    unapplyRefunded: (db, o) => withPayment(db, o.uetr, async (trx, payment) => (await unrefund(trx, payment, o)) !== undefined),

    async refundExpired(now = ctx.now()) {
      return inTransaction(ctx.db, async (trx) => {
        const due = await trx
          .selectFrom("payments")
          .selectAll()
          .where("status", "=", "LOCKED")
          .where("expires_at", "<=", now)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom("chain_intents").select("id").whereRef("chain_intents.uetr", "=", "payments.uetr").where("kind", "=", "refund"))),
          )
          .orderBy("expires_at")
          .limit(REFUND_BATCH)
          .execute();
        for (const row of due) await enqueueRefund(ctx, trx, toPayment(row));
        return due.length;
      });
    },
  };
}
