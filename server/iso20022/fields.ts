import { decimalToMinorUnits } from "./amounts";
import { IsoMessageError } from "./errors";
import { attribute, child, text, texts, type XmlTree } from "./tree";

/** Shared readers for the building blocks that several ISO 20022 messages use the same way. */

export interface Money {
  value: bigint;
  currency: string;
}

export interface BusinessHeader {
  from: string | null;
  to: string | null;
  businessMessageId: string;
  messageDefinitionId: string;
  creationDate: string | null;
}

/** A text the message cannot do without; its absence refuses the whole message (missing_element). */
export function requiredText(node: XmlTree, ...path: string[]): string {
  const value = text(node, ...path);
  if (value === null) throw new IsoMessageError("missing_element", `${path.join("/")} is missing`, { element: path.join("/") });
  return value;
}

/** A financial institution's BIC: BICFI since 2019 variants, BIC in the older ones. */
export function agentBic(agent: XmlTree): string | null {
  const institution = child(agent, "FinInstnId");
  return text(institution, "BICFI") ?? text(institution, "BIC");
}

/** An account's identifier: its IBAN, else its other (proprietary) identification. */
export function accountId(account: XmlTree): string | null {
  return text(account, "Id", "IBAN") ?? text(account, "Id", "Othr", "Id");
}

/** The calendar date of a DateAndDateTime choice: Dt as is, or the date part of DtTm. */
export function dateOf(choice: XmlTree): string | null {
  return text(choice, "Dt") ?? text(choice, "DtTm")?.slice(0, 10) ?? null;
}

/** The references a status report or a return quotes from the original payment. */
export interface OriginalReferences {
  originalInstructionId: string | null;
  originalEndToEndId: string | null;
  originalTransactionId: string | null;
  originalUetr: string | null;
}

export function readOriginalReferences(transaction: XmlTree): OriginalReferences {
  return {
    originalInstructionId: text(transaction, "OrgnlInstrId"),
    originalEndToEndId: text(transaction, "OrgnlEndToEndId"),
    originalTransactionId: text(transaction, "OrgnlTxId"),
    originalUetr: text(transaction, "OrgnlUETR"),
  };
}

/**
 * A reason block (StsRsnInf, RtrRsnInf): the external code, else the proprietary reason; the
 * AddtlInf lines joined by a space, as the writers wrap them.
 */
export function readReason(reasonInformation: XmlTree): { reason: string | null; additionalInformation: string | null } {
  const narrative = texts(reasonInformation, "AddtlInf");
  return {
    reason: text(reasonInformation, "Rsn", "Cd") ?? text(reasonInformation, "Rsn", "Prtry"),
    additionalInformation: narrative.length > 0 ? narrative.join(" ") : null,
  };
}

/** The head.001 business application header around a Document, when there is one. */
export function readBusinessHeader(appHdr: XmlTree): BusinessHeader | null {
  if (appHdr === undefined) return null;
  return {
    from: agentBic(child(appHdr, "Fr", "FIId")),
    to: agentBic(child(appHdr, "To", "FIId")),
    businessMessageId: requiredText(appHdr, "BizMsgIdr"),
    messageDefinitionId: requiredText(appHdr, "MsgDefIdr"),
    creationDate: text(appHdr, "CreDt"),
  };
}

/** An amount element with its Ccy attribute, exactly in minor units; refuses the message if bad. */
export function readAmount(parent: XmlTree, where: string, path: readonly string[] = ["Amt"]): Money {
  const amount = child(parent, ...path);
  const value = text(amount);
  const currency = attribute(amount, "Ccy");
  const element = `${where}/${path.join("/")}`;
  if (value === null || currency === null) throw new IsoMessageError("missing_element", `${element} or its Ccy is missing`, { element });
  try {
    return { value: decimalToMinorUnits(value, currency), currency };
  } catch (error) {
    if (error instanceof IsoMessageError) throw new IsoMessageError("invalid_element", `${element}: ${error.message}`, { element, ...error.details });
    throw error;
  }
}

/** CRDT or DBIT, refusing anything else: a wrong sign is worse than no statement. */
export function readCreditDebit(parent: XmlTree, where: string): "CRDT" | "DBIT" {
  const indicator = text(parent, "CdtDbtInd");
  if (indicator === "CRDT" || indicator === "DBIT") return indicator;
  throw new IsoMessageError(indicator === null ? "missing_element" : "invalid_element", `${where}/CdtDbtInd must be CRDT or DBIT`, {
    element: `${where}/CdtDbtInd`,
    value: indicator,
  });
}
