import type { PaymentStatus } from "../db/schema";
import type { PaymentErrorCode } from "../payments/types";
import type { IsoReasonCode } from "../iso20022/errors";
import type { TransactionStatus } from "../iso20022/pacs002";

/**
 * How Corridor's refusals read in ISO 20022 status reports (ExternalStatusReason1Code). A bank's
 * back office routes RJCT by reason code, so each refusal gets the most specific code there is;
 * NARR (with the message as additional information) is left for refusals ISO has no code for.
 */
const REASON_BY_CODE: Partial<Record<PaymentErrorCode, IsoReasonCode>> = {
  unknown_participant: "RC01",
  participant_suspended: "AG01",
  forbidden_agent: "AG01",
  same_agent: "AG01",
  currency_not_supported: "AM03",
  invalid_amount: "AM12",
  limit_exceeded: "AM02",
  insufficient_funds: "AM04",
  sanctioned_party: "RR04",
  duplicate_uetr: "DUPL",
  invalid_uetr: "FF01",
};

export function isoReasonFor(code: PaymentErrorCode): IsoReasonCode {
  return REASON_BY_CODE[code] ?? "NARR";
}

/**
 * A payment's status as pacs.002 reports it: accepted and in flight (ACSP) until the release
 * settles it (ACSC); a payment that will not settle (rejected, cancelled, refunded) is RJCT.
 */
export function transactionStatusOf(status: PaymentStatus): TransactionStatus {
  switch (status) {
    case "SETTLED":
      return "ACSC";
    case "REJECTED":
    case "CANCELLED":
    case "REFUNDED":
      return "RJCT";
    default:
      return "ACSP";
  }
}

/** The reason a pacs.002 gives for a payment that will not settle. */
export function statusReasonOf(status: PaymentStatus): IsoReasonCode | null {
  if (status === "CANCELLED") return "CNCL";
  if (status === "REFUNDED") return "TM01"; // not released before the lock's expiry
  if (status === "REJECTED") return "NARR";
  return null;
}
