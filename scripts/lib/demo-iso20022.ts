import { createHash, randomUUID } from "node:crypto";
import { minorUnitsToDecimal } from "../../server/iso20022/amounts";
import { element, renderDocument, type XmlElement } from "../../server/iso20022/xml-writer";

/**
 * The ISO 20022 messages the demo sends, written with the relay's own XML writer: a custodian's
 * end-of-day statement of a reserve account (camt.053) and a bank's credit transfer (pacs.008).
 */

/** The demo's invented custodian, holding every reserve account; no real institution uses this BIC. */
export const DEMO_CUSTODIAN_BIC = "CRDRGB2LXXX";

const isoDateTime = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, "Z");
const agent = (name: string, bic: string) => element(name, [element("FinInstnId", [element("BICFI", bic)])]);

export interface ReserveStatement {
  account: string;
  currency: string;
  /** Minor units; the opening balance is the same (the statement has no entries). */
  closingBalance: bigint;
  /** YYYY-MM-DD */
  date: string;
  createdAt: Date;
}

/**
 * A camt.053.001.08 end-of-day statement of one reserve account, without entries. Its ids derive
 * from the account, the date and the balance, so the same statement imported again changes nothing.
 */
export function reserveStatementXml(statement: ReserveStatement): string {
  const { account, currency, closingBalance, date } = statement;
  const digest = createHash("sha256").update(`${account}:${date}:${closingBalance}`).digest("hex").slice(0, 8).toUpperCase();
  const id = `RSV-${currency}-${date.replace(/-/g, "")}-${digest}`;
  const createdAt = isoDateTime(statement.createdAt);
  const balance = (type: "OPBD" | "CLBD"): XmlElement =>
    element("Bal", [
      element("Tp", [element("CdOrPrtry", [element("Cd", type)])]),
      element("Amt", minorUnitsToDecimal(closingBalance < 0n ? -closingBalance : closingBalance, currency), { Ccy: currency }),
      element("CdtDbtInd", closingBalance < 0n ? "DBIT" : "CRDT"),
      element("Dt", [element("Dt", date)]),
    ]);
  return renderDocument(
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
    element("BkToCstmrStmt", [
      element("GrpHdr", [element("MsgId", id), element("CreDtTm", createdAt)]),
      element("Stmt", [
        element("Id", id),
        element("CreDtTm", createdAt),
        element("FrToDt", [element("FrDtTm", `${date}T00:00:00Z`), element("ToDtTm", `${date}T23:59:59Z`)]),
        element("Acct", [
          element("Id", [element("IBAN", account)]),
          element("Ccy", currency),
          element("Ownr", [element("Nm", "Corridor operator (reserves)")]),
          agent("Svcr", DEMO_CUSTODIAN_BIC),
        ]),
        balance("OPBD"),
        balance("CLBD"),
      ]),
    ]),
  );
}

export interface CreditTransfer {
  endToEndId: string;
  debtorAgent: string;
  creditorAgent: string;
  amount: bigint;
  currency: string;
  creditorName: string;
  debtorName: string;
  at: Date;
}

/** A pacs.008.001.08 of one customer credit transfer from the debtor bank, settled gross. */
export function creditTransferXml(transfer: CreditTransfer): string {
  const uetr = randomUUID();
  const reference = uetr.slice(0, 8).toUpperCase();
  return renderDocument(
    "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08",
    element("FIToFICstmrCdtTrf", [
      element("GrpHdr", [
        element("MsgId", `MSG-${transfer.debtorAgent.slice(0, 4)}-${reference}`),
        element("CreDtTm", isoDateTime(transfer.at)),
        element("NbOfTxs", "1"),
        element("SttlmInf", [element("SttlmMtd", "INDA")]),
      ]),
      element("CdtTrfTxInf", [
        element("PmtId", [element("InstrId", `INSTR-${reference}`), element("EndToEndId", transfer.endToEndId), element("UETR", uetr)]),
        element("IntrBkSttlmAmt", minorUnitsToDecimal(transfer.amount, transfer.currency), { Ccy: transfer.currency }),
        element("IntrBkSttlmDt", transfer.at.toISOString().slice(0, 10)),
        element("ChrgBr", "SHAR"),
        agent("InstgAgt", transfer.debtorAgent),
        agent("InstdAgt", transfer.creditorAgent),
        element("Dbtr", [element("Nm", transfer.debtorName)]),
        agent("DbtrAgt", transfer.debtorAgent),
        agent("CdtrAgt", transfer.creditorAgent),
        element("Cdtr", [element("Nm", transfer.creditorName)]),
      ]),
    ]),
  );
}
