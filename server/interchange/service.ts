import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Db } from "../db/database";
import type { Database } from "../db/schema";
import { parsePacs008, type Pacs008Message, type Pacs008Transaction } from "../iso20022/pacs008";
import { buildPacs002, type StatusReportEntry } from "../iso20022/pacs002";
import { buildPacs004, parsePacs004, type PaymentReturnMessage, type ReturnEntry } from "../iso20022/pacs004";
import { inTransaction, sameBic } from "../payments/store";
import type { Caller, Money, Payment, PaymentErrorCode, PaymentService } from "../payments/types";
import { failure, success, type Result } from "../shared/result";
import { isoReasonFor, statusReasonOf, transactionStatusOf } from "./reasons";

/**
 * ISO 20022 interchange: a pacs.008 becomes payments (one per CdtTrfTxInf, each accepted or
 * rejected on its own) answered by a pacs.002; a payment's status reads as a pacs.002; a settled
 * payment is returned (by the JSON API or a received pacs.004) as a new payment in the opposite
 * direction, linked to the original and described by a pacs.004.
 *
 * Every write takes the caller's transaction, so the HTTP layer's idempotency record commits with
 * it: a retried message answers with the first pacs.002, and a half-applied message cannot exist.
 */

export type InterchangeErrorCode = PaymentErrorCode | "payment_not_settled" | "payment_already_returned" | "invalid_return_amount";

export interface ReturnRequest {
  /** An ISO ExternalReturnReason1Code, such as AC04 (account closed) or FOCR (after a recall). */
  reason: string;
  /** Defaults to the whole amount; a partial return names less, in the payment's currency. */
  amount?: Money;
  /** The returning bank's RtrId; generated when absent. */
  returnId?: string;
}

export interface PaymentReturn {
  original: Payment;
  returnPayment: Payment;
  returnId: string;
  reason: string;
  pacs004: string;
}

export interface Pacs008Outcome {
  /** How many transactions were accepted (ACTC) and rejected (RJCT). */
  accepted: number;
  rejected: number;
  pacs002: string;
}

export interface InterchangeService {
  /** Parses (throws IsoMessageError for a message that cannot be read) and takes each transaction. */
  submitPacs008(caller: Caller, message: Pacs008Message, db: Db): Promise<Pacs008Outcome>;
  statusReport(caller: Caller, uetr: string): Promise<Result<string, InterchangeErrorCode>>;
  returnPayment(caller: Caller, uetr: string, request: ReturnRequest, db: Db): Promise<Result<PaymentReturn, InterchangeErrorCode>>;
  /** The pacs.004 of a payment's return. */
  returnMessage(caller: Caller, uetr: string): Promise<Result<string, InterchangeErrorCode>>;
  /** Each returned transaction of a received pacs.004, answered by a pacs.002. */
  receivePacs004(caller: Caller, message: PaymentReturnMessage, db: Db): Promise<Pacs008Outcome>;
}

export { parsePacs008, parsePacs004 };

export function createInterchangeService(deps: { db: Kysely<Database>; payments: PaymentService; now?: () => number }): InterchangeService {
  const { db, payments } = deps;
  const now = deps.now ?? Date.now;
  const messageId = () => `CRDR${now().toString(36).toUpperCase()}${randomUUID().replace(/-/g, "").slice(0, 12).toUpperCase()}`;
  const timestamp = () => new Date(now()).toISOString();

  function report(originalMessageId: string, originalMessageNameId: string, entries: StatusReportEntry[]): Pacs008Outcome {
    const accepted = entries.filter((e) => e.status !== "RJCT").length;
    const rejected = entries.length - accepted;
    const groupStatus = rejected === 0 ? "ACTC" : accepted === 0 ? "RJCT" : null; // mixed: per transaction only
    const pacs002 = buildPacs002({ messageId: messageId(), creationDateTime: timestamp(), originalMessageId, originalMessageNameId, groupStatus, transactions: entries });
    return { accepted, rejected, pacs002 };
  }

  async function submitPacs008(caller: Caller, message: Pacs008Message, trx: Db): Promise<Pacs008Outcome> {
    const entries: StatusReportEntry[] = [];
    const seen = new Set<string>();
    for (const result of message.transactions) {
      if (!result.ok) {
        entries.push({ ...originalRefs(result.references), status: "RJCT", reason: result.reason, additionalInformation: result.message });
        continue;
      }
      const tx = result.transaction;
      if (seen.has(tx.uetr)) {
        entries.push(rejected(tx, "DUPL", `UETR ${tx.uetr} appears twice in this message`));
        continue;
      }
      seen.add(tx.uetr);
      const created = await payments.create(caller, newPaymentOf(tx, message.messageId), trx);
      entries.push(created.ok ? { ...originalRefs(tx), status: "ACTC", reason: null, additionalInformation: null } : rejected(tx, isoReasonFor(created.code), created.message));
    }
    return report(message.messageId, message.version, entries);
  }

  async function statusReport(caller: Caller, uetr: string): Promise<Result<string, InterchangeErrorCode>> {
    const found = await payments.get(caller, uetr);
    if (!found.ok) return found;
    const payment = found.value;
    const status = transactionStatusOf(payment.status);
    const entry: StatusReportEntry = {
      ...originalRefs({ ...payment.references, endToEndId: payment.endToEndId, uetr: payment.uetr }),
      status,
      reason: status === "RJCT" ? statusReasonOf(payment.status) : null,
      additionalInformation: payment.statusReason,
      instructingAgent: payment.debtorAgent,
      instructedAgent: payment.creditorAgent,
    };
    const originalMessageId = payment.references.messageId ?? payment.uetr;
    return success(buildPacs002({ messageId: messageId(), creationDateTime: timestamp(), originalMessageId, originalMessageNameId: "pacs.008.001.08", transactions: [entry] }));
  }

  async function returnPayment(caller: Caller, uetr: string, request: ReturnRequest, trx: Db): Promise<Result<PaymentReturn, InterchangeErrorCode>> {
    const found = await payments.get(caller, uetr, trx);
    if (!found.ok) return found;
    const original = found.value;
    if (caller.role === "bank" && !sameBic(caller.bic, original.creditorAgent)) {
      return failure("forbidden_agent", "only the creditor bank returns a payment", { creditorAgent: original.creditorAgent });
    }
    if (original.status !== "SETTLED") return failure("payment_not_settled", `payment ${uetr} is ${original.status}; only a settled payment is returned`, { status: original.status });
    const amount = request.amount ?? original.amount;
    if (amount.currency !== original.amount.currency || amount.value <= 0n || amount.value > original.amount.value) {
      return failure("invalid_return_amount", "a return is 1 minor unit up to the payment's amount, in its currency", { amount: original.amount.value.toString(), currency: original.amount.currency });
    }
    return inTransaction(trx, async (t) => {
      const existing = await t.selectFrom("payment_returns").select("return_uetr").where("original_uetr", "=", original.uetr).executeTakeFirst();
      if (existing) return failure("payment_already_returned", `payment ${uetr} was returned by ${existing.return_uetr}`, { returnUetr: existing.return_uetr });
      const returnId = request.returnId ?? `RTR${randomUUID().replace(/-/g, "").slice(0, 20).toUpperCase()}`;
      const created = await payments.create(
        caller,
        {
          endToEndId: original.endToEndId,
          debtorAgent: original.creditorAgent,
          creditorAgent: original.debtorAgent,
          amount,
          debtor: party(original.creditor),
          creditor: party(original.debtor),
          remittanceInformation: `Return of ${original.uetr} (${request.reason})`,
          references: { instructionId: returnId, transactionId: returnId, messageId: null },
        },
        t,
      );
      if (!created.ok) return created;
      await t
        .insertInto("payment_returns")
        .values({ return_uetr: created.value.uetr, original_uetr: original.uetr, return_id: returnId, reason: request.reason, requested_by: caller.keyId, created_at: now() })
        .execute();
      const returned = { original, returnPayment: created.value, returnId, reason: request.reason };
      return success({ ...returned, pacs004: pacs004Of(returned) });
    });
  }

  function pacs004Of(r: Omit<PaymentReturn, "pacs004">): string {
    const entry: ReturnEntry = {
      returnId: r.returnId,
      originalMessageId: r.original.references.messageId,
      originalMessageNameId: r.original.references.messageId ? "pacs.008.001.08" : null,
      originalInstructionId: r.original.references.instructionId,
      originalEndToEndId: r.original.endToEndId,
      originalTransactionId: r.original.references.transactionId,
      originalUetr: r.original.uetr,
      returnedAmount: r.returnPayment.amount,
      settlementDate: new Date(r.returnPayment.createdAt).toISOString().slice(0, 10),
      reason: r.reason,
      additionalInformation: null,
      instructingAgent: r.original.creditorAgent,
      instructedAgent: r.original.debtorAgent,
    };
    return buildPacs004({ messageId: messageId(), creationDateTime: timestamp(), transactions: [entry] });
  }

  async function returnMessage(caller: Caller, uetr: string): Promise<Result<string, InterchangeErrorCode>> {
    const found = await payments.get(caller, uetr);
    if (!found.ok) return found;
    const row = await db.selectFrom("payment_returns").selectAll().where("original_uetr", "=", found.value.uetr).executeTakeFirst();
    if (!row) return failure("payment_not_found", `payment ${uetr} has not been returned`, { uetr });
    const returnPayment = await payments.get(caller, row.return_uetr);
    if (!returnPayment.ok) return returnPayment;
    return success(pacs004Of({ original: found.value, returnPayment: returnPayment.value, returnId: row.return_id, reason: row.reason }));
  }

  async function receivePacs004(caller: Caller, message: PaymentReturnMessage, trx: Db): Promise<Pacs008Outcome> {
    const entries: StatusReportEntry[] = [];
    for (const tx of message.transactions) {
      const refs = { originalInstructionId: tx.returnId, originalEndToEndId: tx.originalEndToEndId, originalTransactionId: tx.originalTransactionId, originalUetr: tx.originalUetr };
      if (!tx.originalUetr) {
        entries.push({ ...refs, status: "RJCT", reason: "CH21", additionalInformation: "OrgnlUETR is required to find the returned payment" });
        continue;
      }
      const returned = await returnPayment(caller, tx.originalUetr, { reason: tx.reason ?? "NARR", amount: tx.returnedAmount, returnId: tx.returnId }, trx);
      entries.push(returned.ok ? { ...refs, status: "ACTC", reason: null, additionalInformation: null } : { ...refs, status: "RJCT", reason: returnRefusalReason(returned.code), additionalInformation: returned.message });
    }
    return report(message.messageId, "pacs.004.001.09", entries);
  }

  return { submitPacs008, statusReport, returnPayment, returnMessage, receivePacs004 };
}

function returnRefusalReason(code: InterchangeErrorCode): string {
  if (code === "payment_not_found") return "NOOR"; // no original transaction received
  if (code === "payment_already_returned") return "DUPL";
  if (code === "invalid_return_amount") return "AM09";
  if (code === "payment_not_settled") return "NOAS";
  return isoReasonFor(code as PaymentErrorCode);
}

/** A party for a new payment: absent when the message names neither its name nor its account. */
function party(p: { name: string | null; account: string | null }): { name?: string; account?: string } | undefined {
  return p.name || p.account ? { name: p.name ?? undefined, account: p.account ?? undefined } : undefined;
}

function newPaymentOf(tx: Pacs008Transaction, messageId: string) {
  return {
    uetr: tx.uetr,
    endToEndId: tx.endToEndId,
    debtorAgent: tx.debtorAgent,
    creditorAgent: tx.creditorAgent,
    amount: tx.amount,
    debtor: party(tx.debtor),
    creditor: party(tx.creditor),
    remittanceInformation: tx.remittanceInformation ?? undefined,
    references: { instructionId: tx.instructionId, transactionId: tx.transactionId, messageId },
  };
}

function originalRefs(r: { instructionId: string | null; endToEndId: string | null; transactionId: string | null; uetr: string | null }) {
  return { originalInstructionId: r.instructionId, originalEndToEndId: r.endToEndId, originalTransactionId: r.transactionId, originalUetr: r.uetr };
}

function rejected(tx: Pacs008Transaction, reason: string, message: string): StatusReportEntry {
  return { ...originalRefs(tx), status: "RJCT", reason, additionalInformation: message };
}
