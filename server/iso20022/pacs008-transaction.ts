import { decimalToMinorUnits } from "./amounts";
import type { IsoReasonCode } from "./errors";
import { accountId, agentBic, type Money } from "./fields";
import { isUuidV4, isValidBic, isValidIban } from "./identifiers";
import { attribute, child, text, texts, type XmlTree } from "./tree";
import { isKnownCurrency } from "../config/currencies";

export interface Party {
  name: string | null;
  /** The IBAN, or the other (proprietary) account identification. */
  account: string | null;
}

export interface Pacs008Transaction {
  instructionId: string | null;
  endToEndId: string;
  transactionId: string | null;
  uetr: string;
  amount: Money;
  interbankSettlementDate: string | null;
  chargeBearer: string | null;
  instructingAgent: string | null;
  instructedAgent: string | null;
  debtorAgent: string;
  creditorAgent: string;
  debtor: Party;
  creditor: Party;
  /** The unstructured remittance lines, joined by a space. */
  remittanceInformation: string | null;
}

export interface TransactionReferences {
  instructionId: string | null;
  endToEndId: string | null;
  transactionId: string | null;
  uetr: string | null;
}

export type Pacs008TransactionResult =
  | { index: number; ok: true; transaction: Pacs008Transaction }
  | { index: number; ok: false; reason: IsoReasonCode; message: string; references: TransactionReferences };

/** Thrown only inside readTransaction to stop at the first problem; it never leaves this module. */
class Rejection {
  constructor(
    readonly reason: IsoReasonCode,
    readonly message: string,
  ) {}
}

/**
 * Reads each CdtTrfTxInf on its own: a rejection names the first problem found, in the order
 * missing element (CH21), malformed UETR (FF01), currency (AM03), amount (AM12, zero AM01),
 * BIC (RC01), IBAN (AC01), then a UETR already used earlier in the same message (DUPL).
 */
export function readCreditTransfers(nodes: XmlTree[], groupHeader: XmlTree): Pacs008TransactionResult[] {
  const seenUetrs = new Set<string>();
  return nodes.map((node, index) => {
    const references = referencesOf(node);
    try {
      const transaction = readTransaction(node, references, groupHeader);
      if (seenUetrs.has(transaction.uetr)) throw new Rejection("DUPL", `UETR ${transaction.uetr} occurs twice in the message`);
      return { index, ok: true, transaction };
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      return { index, ok: false, reason: error.reason, message: error.message, references };
    } finally {
      if (references.uetr !== null) seenUetrs.add(references.uetr);
    }
  });
}

function referencesOf(node: XmlTree): TransactionReferences {
  const paymentId = child(node, "PmtId");
  return {
    instructionId: text(paymentId, "InstrId"),
    endToEndId: text(paymentId, "EndToEndId"),
    transactionId: text(paymentId, "TxId"),
    uetr: text(paymentId, "UETR"),
  };
}

function readTransaction(node: XmlTree, references: TransactionReferences, groupHeader: XmlTree): Pacs008Transaction {
  const amountNode = child(node, "IntrBkSttlmAmt");
  const amountText = text(amountNode);
  const currency = attribute(amountNode, "Ccy");
  const debtorAgent = agentBic(child(node, "DbtrAgt"));
  const creditorAgent = agentBic(child(node, "CdtrAgt"));
  const { uetr, endToEndId } = references;
  if (uetr === null || endToEndId === null || amountText === null || currency === null || debtorAgent === null || creditorAgent === null) {
    const mandatory = {
      "PmtId/UETR": uetr,
      "PmtId/EndToEndId": endToEndId,
      IntrBkSttlmAmt: amountText,
      "IntrBkSttlmAmt/@Ccy": currency,
      "DbtrAgt/FinInstnId/BICFI": debtorAgent,
      "CdtrAgt/FinInstnId/BICFI": creditorAgent,
    };
    const missing = Object.keys(mandatory).filter((element) => mandatory[element as keyof typeof mandatory] === null);
    throw new Rejection("CH21", `mandatory element missing: ${missing.join(", ")}`);
  }
  if (!isUuidV4(uetr)) throw new Rejection("FF01", `UETR ${JSON.stringify(uetr)} is not a lower-case UUID v4`);
  const amount = { value: amountValue(amountText, currency), currency };
  const instructingAgent = agentBic(child(node, "InstgAgt")) ?? agentBic(child(groupHeader, "InstgAgt"));
  const instructedAgent = agentBic(child(node, "InstdAgt")) ?? agentBic(child(groupHeader, "InstdAgt"));
  const badBic = [debtorAgent, creditorAgent, instructingAgent, instructedAgent].find((bic) => bic !== null && !isValidBic(bic));
  if (badBic !== undefined) throw new Rejection("RC01", `${JSON.stringify(badBic)} is not a valid BIC`);
  const debtor = partyOf(node, "Dbtr");
  const creditor = partyOf(node, "Cdtr");
  const remittance = texts(child(node, "RmtInf"), "Ustrd");
  return {
    instructionId: references.instructionId,
    endToEndId,
    transactionId: references.transactionId,
    uetr,
    amount,
    interbankSettlementDate: text(node, "IntrBkSttlmDt") ?? text(groupHeader, "IntrBkSttlmDt"),
    chargeBearer: text(node, "ChrgBr"),
    instructingAgent,
    instructedAgent,
    debtorAgent,
    creditorAgent,
    debtor,
    creditor,
    remittanceInformation: remittance.length > 0 ? remittance.join(" ") : null,
  };
}

function amountValue(amountText: string, currency: string): bigint {
  if (!isKnownCurrency(currency)) throw new Rejection("AM03", `currency ${JSON.stringify(currency)} is not an ISO 4217 currency`);
  let value: bigint;
  try {
    value = decimalToMinorUnits(amountText, currency);
  } catch {
    throw new Rejection("AM12", `amount ${JSON.stringify(amountText)} is not a valid ${currency} amount`);
  }
  if (value === 0n) throw new Rejection("AM01", "the amount is zero");
  return value;
}

/** An IBAN that is present must be a valid one; other identifications are the bank's business. */
function partyOf(node: XmlTree, role: "Dbtr" | "Cdtr"): Party {
  const account = child(node, `${role}Acct`);
  const iban = text(account, "Id", "IBAN");
  if (iban !== null && !isValidIban(iban)) throw new Rejection("AC01", `${role}Acct IBAN ${JSON.stringify(iban)} is not valid`);
  return { name: text(node, role, "Nm"), account: accountId(account) };
}
