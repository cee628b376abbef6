import { readIsoDocument } from "./detect";
import { IsoMessageError } from "./errors";
import { readBusinessHeader, requiredText, type BusinessHeader } from "./fields";
import { readCreditTransfers, type Pacs008TransactionResult } from "./pacs008-transaction";
import { children, text, type XmlTree } from "./tree";
import type { XmlReadOptions } from "./xml";

export type { BusinessHeader } from "./fields";
export type { Money } from "./fields";
export type { Party, Pacs008Transaction, Pacs008TransactionResult } from "./pacs008-transaction";

export interface Pacs008Message {
  version: string;
  messageId: string;
  creationDateTime: string;
  numberOfTransactions: number | null;
  settlementMethod: string | null;
  businessHeader: BusinessHeader | null;
  transactions: Pacs008TransactionResult[];
}

/**
 * Reads a pacs.008 FI-to-FI customer credit transfer (variants .001.08 to .001.12), bare or in a
 * business envelope with its AppHdr. Problems of the whole message (not XML, not pacs.008, no
 * group header, a transaction count that disagrees) throw IsoMessageError; a bad transaction
 * only comes back rejected with its ISO reason code, beside the good ones.
 */
export function parsePacs008(xml: string, options?: XmlReadOptions): Pacs008Message {
  const { version, document, appHdr } = readIsoDocument(xml, "pacs.008", options);
  const transfer = requiredElement(document, "FIToFICstmrCdtTrf");
  const groupHeader = requiredElement(transfer, "GrpHdr");
  const messageId = requiredText(transfer, "GrpHdr", "MsgId");
  const creationDateTime = requiredText(transfer, "GrpHdr", "CreDtTm");
  const transactionNodes = children(transfer, "CdtTrfTxInf");
  if (transactionNodes.length === 0) throw new IsoMessageError("missing_element", "the message has no CdtTrfTxInf", { element: "CdtTrfTxInf" });
  const numberOfTransactions = declaredCount(groupHeader, transactionNodes.length);
  return {
    version,
    messageId,
    creationDateTime,
    numberOfTransactions,
    settlementMethod: text(groupHeader, "SttlmInf", "SttlmMtd"),
    businessHeader: readBusinessHeader(appHdr),
    transactions: readCreditTransfers(transactionNodes, groupHeader),
  };
}

function requiredElement(node: XmlTree, name: string): XmlTree {
  const [element] = children(node, name);
  if (element === undefined) throw new IsoMessageError("missing_element", `${name} is missing`, { element: name });
  return element;
}

/** NbOfTxs is a control total: one that disagrees with the transactions means a damaged file. */
function declaredCount(groupHeader: XmlTree, found: number): number | null {
  const declared = text(groupHeader, "NbOfTxs");
  if (declared === null) return null;
  if (!/^[0-9]{1,15}$/.test(declared) || Number(declared) !== found) {
    throw new IsoMessageError("invalid_element", `GrpHdr/NbOfTxs says ${declared} but the message has ${found} transactions`, {
      element: "GrpHdr/NbOfTxs",
      declared,
      found,
    });
  }
  return found;
}
