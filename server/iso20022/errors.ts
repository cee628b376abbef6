/**
 * Why a whole ISO 20022 message is refused. Per-transaction problems are not errors: they come
 * back as an `IsoReasonCode` on that transaction's result, so one bad payment cannot sink a batch.
 */
export type IsoErrorCode =
  | "malformed_xml"
  | "doctype_forbidden"
  | "unsupported_message"
  | "wrong_namespace"
  | "missing_element"
  | "invalid_element"
  | "too_large";

export class IsoMessageError extends Error {
  constructor(
    readonly code: IsoErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "IsoMessageError";
  }
}

/**
 * ISO external status reason codes (ExternalStatusReason1Code) Corridor gives a rejected
 * transaction: AM01 zero amount, AM02 above limit, AM03 currency not allowed, AM12 invalid amount,
 * RC01 invalid BIC, AC01 invalid account, CH21 mandatory element missing, DUPL duplicate,
 * FF01 invalid format, AG01 transaction forbidden, RR04 regulatory, NARR see narrative.
 */
export type IsoReasonCode = "AM01" | "AM02" | "AM03" | "AM12" | "RC01" | "AC01" | "CH21" | "DUPL" | "FF01" | "AG01" | "RR04" | "NARR" | string;
