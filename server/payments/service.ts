import type { Kysely } from "kysely";
import type { Dialect } from "../db/database";
import type { Database } from "../db/schema";
import type { LedgerService } from "../ledger/service";
import type { FxService } from "../fx/types";
import type { RiskService } from "../risk/service";
import { failure, success, type Result } from "../shared/result";
import { createPayment } from "./intake";
import { withdrawLock } from "./intents";
import { enqueueSettlement, pvpLinkOf, pvpView } from "./pvp";
import { createPvPPayment } from "./pvp-intake";
import { cancelNetPayment, requeueNetPayments, settleNetPayments, unsettleNetPayments, type NetWindows } from "./net";
import { createChainHooks, transition } from "./lifecycle";
import { bicSpellings, canSee, decodeCursor, encodeCursor, inTransaction, loadHistory, loadPayment, sameBic, toPayment, type PaymentContext } from "./store";
import type { Caller, Payment, PaymentErrorCode, PaymentFilter, PaymentPage, PaymentService } from "./types";

/**
 * The payment service: intake (intake.ts), queries, the bank's cancel and confirm, and the chain
 * hooks (lifecycle.ts) with their ledger side (ledger-steps.ts) and chain intents (intents.ts).
 *
 * Visibility: a bank sees only payments it sends or receives. Any other payment is reported as
 * payment_not_found, exactly as a missing one, so a bank cannot learn that another's UETR exists.
 * A bank that sees a payment but may not act on it (the creditor cancelling) gets forbidden_agent.
 */

export interface PaymentServiceDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  ledger: LedgerService;
  risk: RiskService;
  chain: { tokenAddress(currency: string): string | undefined };
  config: {
    defaultExpirySeconds: number;
    maxExpirySeconds: number;
    /** Enqueue the release as soon as the lock is confirmed, without the creditor's confirm. */
    autoRelease: boolean;
  };
  /** Quotes for cross-currency payments (PvP); without it, a payment naming a quote finds none. */
  fx?: Pick<FxService, "getQuote" | "consumeQuote">;
  windows?: NetWindows;
  now?: () => number;
}

export const MAX_PAGE_SIZE = 100;

export { paymentToJson, type PaymentJson } from "./store";
export { PaymentStateError, STATUS_CHANGED } from "./lifecycle";
export { PaymentLedgerError } from "./ledger-steps";
export { REFUND_DELAY_MS } from "./intents";

type Outcome<T> = Result<T, PaymentErrorCode>;

const notFound = (uetr: string) => failure("payment_not_found" as const, `no payment ${uetr}`, { uetr });

export function createPaymentService(deps: PaymentServiceDeps): PaymentService {
  const ctx: PaymentContext = { ...deps, now: deps.now ?? Date.now };

  /** The payment if the caller may see it; what is invisible is "not found". */
  async function visible(caller: Caller, uetr: string, db: Kysely<Database> = ctx.db, lock = false): Promise<Outcome<Payment>> {
    const payment = await loadPayment(ctx, db, uetr, lock);
    return payment && canSee(caller, payment) ? success(payment) : notFound(uetr);
  }

  /** Banks act only as the given agent of the payment; treasury and admin act for any. */
  function actsAs(caller: Caller, bic: string): boolean {
    return caller.role !== "bank" || sameBic(caller.bic, bic);
  }

  return {
    create: (caller, input, db) => {
      const { quoteId } = input;
      if (quoteId !== undefined && input.settlement === "net") {
        return Promise.resolve(failure("net_settlement_unavailable", "cross-currency payments settle gross, payment-versus-payment", { quoteId }));
      }
      return quoteId === undefined ? createPayment(ctx, caller, input, db) : createPvPPayment(ctx, caller, { ...input, quoteId }, db);
    },

    async get(caller, uetr, db = ctx.db) {
      const found = await visible(caller, uetr, db);
      if (!found.ok) return found;
      const fx = await pvpView(ctx, db, found.value);
      return success({ ...found.value, history: await loadHistory(db, found.value.uetr), ...(fx && { fx }) });
    },

    list: (caller, filter) => listPayments(ctx, caller, filter),

    cancel: (caller, uetr) =>
      inTransaction(ctx.db, async (trx) => {
        const found = await visible(caller, uetr, trx, true);
        if (!found.ok) return found;
        const payment = found.value;
        if (!actsAs(caller, payment.debtorAgent)) {
          return failure("forbidden_agent", "only the debtor agent may cancel a payment", { uetr: payment.uetr });
        }
        const by = caller.role === "bank" ? "the debtor agent" : caller.role;
        if (payment.settlement === "net") {
          if (payment.status === "QUEUED" && (await windowIsOpen(ctx, trx, payment.windowId))) {
            return success(await cancelNetPayment(ctx, trx, payment, `cancelled by ${by}`));
          }
          return failure("payment_not_cancellable", `payment ${payment.uetr} is ${payment.status} and its window is no longer open`, {
            uetr: payment.uetr,
            status: payment.status,
            windowId: payment.windowId,
          });
        }
        // A PvP leg alone cannot be withdrawn without stranding its partner's lock; it is refunded at expiry.
        const linked = (await pvpLinkOf(trx, payment.uetr)) !== undefined;
        if (linked || payment.status !== "RECEIVED" || !(await withdrawLock(ctx, trx, payment))) {
          return failure("payment_not_cancellable", `payment ${payment.uetr} is ${payment.status} and its lock may already be on chain`, {
            uetr: payment.uetr,
            status: payment.status,
          });
        }
        return success(await transition(ctx, trx, payment, { status: "CANCELLED", reason: `cancelled by ${by}` }));
      }),

    confirm: (caller, uetr) =>
      inTransaction(ctx.db, async (trx) => {
        const found = await visible(caller, uetr, trx, true);
        if (!found.ok) return found;
        const payment = found.value;
        if (!actsAs(caller, payment.creditorAgent)) {
          return failure("forbidden_agent", "only the creditor agent may confirm a payment", { uetr: payment.uetr });
        }
        if (payment.status !== "LOCKED") {
          return failure("payment_not_confirmable", `payment ${payment.uetr} is ${payment.status}, not LOCKED`, {
            uetr: payment.uetr,
            status: payment.status,
          });
        }
        // The status stays LOCKED until the chain reports the release; confirming twice is harmless.
        if (!(await enqueueSettlement(ctx, trx, payment))) {
          return failure("payment_not_confirmable", `payment ${payment.uetr} is a PvP leg whose other leg is not locked yet`, {
            uetr: payment.uetr,
            status: payment.status,
          });
        }
        return success(payment);
      }),

    requeueNet: (db, uetrs, windowId, reason) => inTransaction(db, (trx) => requeueNetPayments(ctx, trx, uetrs, windowId, reason)),
    settleNet: (db, uetrs, nets, currency, o) => inTransaction(db, (trx) => settleNetPayments(ctx, trx, uetrs, nets, currency, o)),
    unsettleNet: (db, uetrs, nets, currency, o) => inTransaction(db, (trx) => unsettleNetPayments(ctx, trx, uetrs, nets, currency, o)),
    ...createChainHooks(ctx),
  };
}

/** Whether the window still takes changes; on PostgreSQL held (shared) so that its close waits for us. */
async function windowIsOpen(ctx: PaymentContext, trx: Kysely<Database>, windowId: string | null): Promise<boolean> {
  if (windowId === null) return false;
  let query = trx.selectFrom("settlement_windows").select("state").where("id", "=", windowId);
  if (ctx.dialect === "postgres") query = query.forShare();
  const row = await query.executeTakeFirst();
  return row?.state === "OPEN";
}

/** Newest first, by keyset on (created_at, uetr): stable while payments are being added. */
async function listPayments(ctx: PaymentContext, caller: Caller, filter: PaymentFilter): Promise<Outcome<PaymentPage>> {
  const cursor = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  if (cursor && !cursor.ok) return cursor;
  if (caller.role === "bank" && caller.bic === null) return success({ payments: [], nextCursor: null });
  const limit = Math.min(Math.max(Math.trunc(filter.limit) || 1, 1), MAX_PAGE_SIZE);

  let query = ctx.db.selectFrom("payments").selectAll();
  if (caller.role === "bank") {
    const own = bicSpellings(caller.bic!);
    query = query.where((eb) => eb.or([eb("debtor_bic", "in", own), eb("creditor_bic", "in", own)]));
  }
  if (filter.status) query = query.where("status", "=", filter.status);
  if (filter.debtorAgent) query = query.where("debtor_bic", "in", bicSpellings(filter.debtorAgent));
  if (filter.creditorAgent) query = query.where("creditor_bic", "in", bicSpellings(filter.creditorAgent));
  if (filter.bic) {
    const either = bicSpellings(filter.bic);
    query = query.where((eb) => eb.or([eb("debtor_bic", "in", either), eb("creditor_bic", "in", either)]));
  }
  if (filter.currency) query = query.where("currency", "=", filter.currency);
  if (filter.endToEndId) query = query.where("end_to_end_id", "=", filter.endToEndId);
  if (cursor) {
    const { createdAt, uetr } = cursor.value;
    query = query.where((eb) => eb.or([eb("created_at", "<", createdAt), eb.and([eb("created_at", "=", createdAt), eb("uetr", "<", uetr)])]));
  }
  const rows = await query.orderBy("created_at", "desc").orderBy("uetr", "desc").limit(limit + 1).execute();
  const payments = rows.slice(0, limit).map(toPayment);
  const last = payments[payments.length - 1];
  const nextCursor = rows.length > limit ? encodeCursor({ createdAt: last.createdAt, uetr: last.uetr }) : null;
  return success({ payments, nextCursor });
}
