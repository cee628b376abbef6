import { dateTimeElement, max35Element, optionalAgentElement, optionalReasonElement, originalReferenceElements } from "./build-fields";
import { readIsoDocument } from "./detect";
import { IsoMessageError, type IsoReasonCode } from "./errors";
import { agentBic, readOriginalReferences, readReason, requiredText } from "./fields";
import { child, children, text, type XmlTree } from "./tree";
import type { XmlReadOptions } from "./xml";
import { element, renderDocument, type XmlElement } from "./xml-writer";

export type TransactionStatus = "ACTC" | "ACCP" | "ACSP" | "ACSC" | "RJCT" | "PDNG";

export interface StatusReportEntry {
  originalInstructionId: string | null;
  originalEndToEndId: string | null;
  originalTransactionId: string | null;
  originalUetr: string | null;
  status: TransactionStatus;
  reason: IsoReasonCode | null;
  /** The narrative; several AddtlInf lines are joined by a space. */
  additionalInformation: string | null;
  instructingAgent?: string | null;
  instructedAgent?: string | null;
}

export interface StatusReport {
  messageId: string;
  creationDateTime: string;
  originalMessageId: string;
  originalMessageNameId: string;
  originalCreationDateTime?: string | null;
  groupStatus?: TransactionStatus | null;
  transactions: StatusReportEntry[];
}

const PACS002_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10";
const STATUSES: readonly string[] = ["ACTC", "ACCP", "ACSP", "ACSC", "RJCT", "PDNG"];

/**
 * Writes a pacs.002.001.10 FI-to-FI payment status report. Each transaction names its original
 * message (OrgnlGrpInf, as CBPR+ wants); the group block OrgnlGrpInfAndSts is written only for a
 * group status or a report without transactions. Throws IsoMessageError("invalid_element") for a
 * value its ISO type cannot hold, and for a rejection without a reason.
 */
export function buildPacs002(report: StatusReport): string {
  const original = [
    max35Element("OrgnlMsgId", report.originalMessageId),
    max35Element("OrgnlMsgNmId", report.originalMessageNameId),
    report.originalCreationDateTime ? dateTimeElement("OrgnlCreDtTm", report.originalCreationDateTime) : null,
  ];
  const groupStatus = report.groupStatus ?? null;
  const writesGroup = groupStatus !== null || report.transactions.length === 0;
  return renderDocument(
    PACS002_NAMESPACE,
    element("FIToFIPmtStsRpt", [
      element("GrpHdr", [max35Element("MsgId", report.messageId), dateTimeElement("CreDtTm", report.creationDateTime)]),
      writesGroup ? element("OrgnlGrpInfAndSts", [...original, groupStatus === null ? null : statusElement("GrpSts", groupStatus)]) : null,
      ...report.transactions.map((entry) => entryElement(entry, original)),
    ]),
  );
}

function entryElement(entry: StatusReportEntry, original: (XmlElement | null)[]): XmlElement {
  if (entry.status === "RJCT" && entry.reason === null) {
    throw new IsoMessageError("invalid_element", "a rejected transaction must carry a reason", { element: "StsRsnInf/Rsn" });
  }
  return element("TxInfAndSts", [
    element("OrgnlGrpInf", original),
    ...originalReferenceElements(entry),
    statusElement("TxSts", entry.status),
    optionalReasonElement("StsRsnInf", entry.reason, entry.additionalInformation),
    optionalAgentElement("InstgAgt", entry.instructingAgent),
    optionalAgentElement("InstdAgt", entry.instructedAgent),
  ]);
}

function statusElement(name: string, status: string): XmlElement {
  return element(name, asStatus(status, name));
}

/**
 * Reads a pacs.002 status report (variants .001.10 to .001.14). The original message comes from
 * the group block or, as in CBPR+, from the first transaction's OrgnlGrpInf. A status outside
 * ACTC/ACCP/ACSP/ACSC/RJCT/PDNG refuses the message (invalid_element).
 */
export function parsePacs002(xml: string, options?: XmlReadOptions): StatusReport & { version: string } {
  const { version, document } = readIsoDocument(xml, "pacs.002", options);
  const report = child(document, "FIToFIPmtStsRpt");
  if (report === undefined) throw new IsoMessageError("missing_element", "FIToFIPmtStsRpt is missing", { element: "FIToFIPmtStsRpt" });
  const group = child(report, "OrgnlGrpInfAndSts");
  const transactions = children(report, "TxInfAndSts");
  const originalGroup = group ?? child(transactions[0], "OrgnlGrpInf");
  const groupStatus = text(group, "GrpSts");
  return {
    version,
    messageId: requiredText(report, "GrpHdr", "MsgId"),
    creationDateTime: requiredText(report, "GrpHdr", "CreDtTm"),
    originalMessageId: requiredText(originalGroup, "OrgnlMsgId"),
    originalMessageNameId: requiredText(originalGroup, "OrgnlMsgNmId"),
    originalCreationDateTime: text(originalGroup, "OrgnlCreDtTm"),
    groupStatus: groupStatus === null ? null : asStatus(groupStatus, "GrpSts"),
    transactions: transactions.map(readEntry),
  };
}

function readEntry(transaction: XmlTree): StatusReportEntry {
  return {
    ...readOriginalReferences(transaction),
    status: asStatus(requiredText(transaction, "TxSts"), "TxSts"),
    ...readReason(child(transaction, "StsRsnInf")),
    instructingAgent: agentBic(child(transaction, "InstgAgt")),
    instructedAgent: agentBic(child(transaction, "InstdAgt")),
  };
}

function asStatus(status: string, elementName: string): TransactionStatus {
  if (STATUSES.includes(status)) return status as TransactionStatus;
  throw new IsoMessageError("invalid_element", `${elementName} ${JSON.stringify(status)} is not a status Corridor knows`, { element: elementName, value: status });
}
