import {
  amountElement, dateTimeElement, max35Element, optionalAgentElement, optionalDateElement, optionalReasonElement, originalReferenceElements,
} from "./build-fields";
import { readIsoDocument } from "./detect";
import { IsoMessageError } from "./errors";
import { agentBic, readAmount, readOriginalReferences, readReason, requiredText, type Money } from "./fields";
import { child, children, text, type XmlTree } from "./tree";
import type { XmlReadOptions } from "./xml";
import { element, renderDocument, type XmlElement } from "./xml-writer";

export interface ReturnEntry {
  returnId: string;
  originalMessageId: string | null;
  originalMessageNameId: string | null;
  originalInstructionId: string | null;
  originalEndToEndId: string | null;
  originalTransactionId: string | null;
  originalUetr: string | null;
  returnedAmount: Money;
  settlementDate: string | null;
  /** The ISO return reason code, e.g. AC04; or the proprietary reason. */
  reason: string | null;
  /** The narrative; several AddtlInf lines are joined by a space. */
  additionalInformation: string | null;
  instructingAgent: string | null;
  instructedAgent: string | null;
}

export interface PaymentReturnMessage {
  messageId: string;
  creationDateTime: string;
  transactions: ReturnEntry[];
}

const PACS004_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09";
/** Corridor settles each return itself between the two agents, as CBPR+ returns do. */
const SETTLEMENT_METHOD = "INDA";

/**
 * Writes a pacs.004.001.09 payment return. Throws IsoMessageError("invalid_element") for a value
 * its ISO type cannot hold, and for an original message id without its message name (ISO needs both).
 */
export function buildPacs004(message: PaymentReturnMessage): string {
  return renderDocument(
    PACS004_NAMESPACE,
    element("PmtRtr", [
      element("GrpHdr", [
        max35Element("MsgId", message.messageId),
        dateTimeElement("CreDtTm", message.creationDateTime),
        element("NbOfTxs", String(message.transactions.length)),
        element("SttlmInf", [element("SttlmMtd", SETTLEMENT_METHOD)]),
      ]),
      ...message.transactions.map(returnElement),
    ]),
  );
}

function returnElement(entry: ReturnEntry): XmlElement {
  return element("TxInf", [
    max35Element("RtrId", entry.returnId),
    originalGroupElement(entry),
    ...originalReferenceElements(entry),
    amountElement("RtrdIntrBkSttlmAmt", entry.returnedAmount),
    optionalDateElement("IntrBkSttlmDt", entry.settlementDate),
    optionalAgentElement("InstgAgt", entry.instructingAgent),
    optionalAgentElement("InstdAgt", entry.instructedAgent),
    optionalReasonElement("RtrRsnInf", entry.reason, entry.additionalInformation),
  ]);
}

function originalGroupElement(entry: ReturnEntry): XmlElement | null {
  if (entry.originalMessageId === null && entry.originalMessageNameId === null) return null;
  if (entry.originalMessageId === null || entry.originalMessageNameId === null) {
    throw new IsoMessageError("invalid_element", "OrgnlGrpInf needs both the original message id and its message name", { element: "OrgnlGrpInf" });
  }
  return element("OrgnlGrpInf", [max35Element("OrgnlMsgId", entry.originalMessageId), max35Element("OrgnlMsgNmId", entry.originalMessageNameId)]);
}

/**
 * Reads a pacs.004 payment return (variants .001.09 to .001.13). RtrId is optional in ISO and
 * CBPR+ returns often leave it out: then the message id identifies a single return, and
 * "<MsgId>/<n>" the n-th of several. A missing or invalid returned amount refuses the message.
 */
export function parsePacs004(xml: string, options?: XmlReadOptions): PaymentReturnMessage & { version: string } {
  const { version, document } = readIsoDocument(xml, "pacs.004", options);
  const paymentReturn = child(document, "PmtRtr");
  if (paymentReturn === undefined) throw new IsoMessageError("missing_element", "PmtRtr is missing", { element: "PmtRtr" });
  const messageId = requiredText(paymentReturn, "GrpHdr", "MsgId");
  const groupHeader = child(paymentReturn, "GrpHdr");
  const transactions = children(paymentReturn, "TxInf");
  return {
    version,
    messageId,
    creationDateTime: requiredText(paymentReturn, "GrpHdr", "CreDtTm"),
    transactions: transactions.map((transaction, index) =>
      readReturn(transaction, groupHeader, transactions.length === 1 ? messageId : `${messageId}/${index + 1}`),
    ),
  };
}

function readReturn(transaction: XmlTree, groupHeader: XmlTree, fallbackReturnId: string): ReturnEntry {
  return {
    returnId: text(transaction, "RtrId") ?? fallbackReturnId,
    originalMessageId: text(transaction, "OrgnlGrpInf", "OrgnlMsgId"),
    originalMessageNameId: text(transaction, "OrgnlGrpInf", "OrgnlMsgNmId"),
    ...readOriginalReferences(transaction),
    returnedAmount: readAmount(transaction, "TxInf", ["RtrdIntrBkSttlmAmt"]),
    settlementDate: text(transaction, "IntrBkSttlmDt") ?? text(groupHeader, "IntrBkSttlmDt"),
    ...readReason(child(transaction, "RtrRsnInf")),
    instructingAgent: agentBic(child(transaction, "InstgAgt")) ?? agentBic(child(groupHeader, "InstgAgt")),
    instructedAgent: agentBic(child(transaction, "InstdAgt")) ?? agentBic(child(groupHeader, "InstdAgt")),
  };
}
