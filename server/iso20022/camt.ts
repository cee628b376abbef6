import { readEntries, type StatementEntry } from "./camt-entries";
import { readIsoDocument } from "./detect";
import { IsoMessageError } from "./errors";
import { accountId, agentBic, dateOf, readAmount, readCreditDebit, requiredText } from "./fields";
import { child, children, text, type XmlTree } from "./tree";
import type { XmlReadOptions } from "./xml";

export type { EntryTransaction, StatementEntry } from "./camt-entries";

export interface Balance {
  /** Signed minor units: a DBIT balance is negative. */
  amount: bigint;
  currency: string;
  date: string | null;
}

export interface AccountStatement {
  statementId: string;
  /** The IBAN, or the other (proprietary) account identification. */
  accountId: string;
  accountCurrency: string | null;
  servicerBic: string | null;
  ownerBic: string | null;
  electronicSequence: string | null;
  /** FrToDt/FrDtTm and ToDtTm as the bank wrote them (date-times). */
  fromDate: string | null;
  toDate: string | null;
  createdAt: string | null;
  openingBalance: Balance | null;
  closingBalance: Balance | null;
  entries: StatementEntry[];
}

export interface CamtMessage {
  kind: "camt.053" | "camt.054";
  version: string;
  messageId: string;
  creationDateTime: string;
  /** camt.054 notifications (Ntfctn) come here too, with null balances. */
  statements: AccountStatement[];
}

const CONTAINERS = {
  "camt.053": { message: "BkToCstmrStmt", statement: "Stmt" },
  "camt.054": { message: "BkToCstmrDbtCdtNtfctn", statement: "Ntfctn" },
} as const;

/**
 * Reads a bank-to-customer statement (camt.053) or debit/credit notification (camt.054),
 * variants .001.02 to .001.13. Unlike pacs.008 there is no per-entry rejection: a statement is
 * the bank's record, so any missing or invalid element refuses the whole message.
 */
export function parseCamt(xml: string, options?: XmlReadOptions): CamtMessage {
  const { type, version, document } = readIsoDocument(xml, ["camt.053", "camt.054"], options);
  const kind = type as CamtMessage["kind"];
  const names = CONTAINERS[kind];
  const message = child(document, names.message);
  if (message === undefined) throw new IsoMessageError("missing_element", `${names.message} is missing`, { element: names.message });
  return {
    kind,
    version,
    messageId: requiredText(message, "GrpHdr", "MsgId"),
    creationDateTime: requiredText(message, "GrpHdr", "CreDtTm"),
    statements: children(message, names.statement).map((statement) => readStatement(statement)),
  };
}

function readStatement(statement: XmlTree): AccountStatement {
  const account = child(statement, "Acct");
  const id = accountId(account);
  if (id === null) throw new IsoMessageError("missing_element", "Acct/Id is missing", { element: "Acct/Id" });
  const servicerBic = agentBic(child(account, "Svcr"));
  const balances = children(statement, "Bal");
  return {
    statementId: requiredText(statement, "Id"),
    accountId: id,
    accountCurrency: text(account, "Ccy"),
    servicerBic,
    ownerBic: text(account, "Ownr", "Id", "OrgId", "AnyBIC") ?? text(account, "Ownr", "Id", "OrgId", "BICOrBEI"),
    electronicSequence: text(statement, "ElctrncSeqNb"),
    fromDate: text(statement, "FrToDt", "FrDtTm"),
    toDate: text(statement, "FrToDt", "ToDtTm"),
    createdAt: text(statement, "CreDtTm"),
    openingBalance: balanceOfType(balances, "OPBD") ?? balanceOfType(balances, "PRCD"),
    closingBalance: balanceOfType(balances, "CLBD"),
    entries: readEntries(children(statement, "Ntry"), servicerBic),
  };
}

function balanceOfType(balances: XmlTree[], type: string): Balance | null {
  const balance = balances.find((candidate) => text(candidate, "Tp", "CdOrPrtry", "Cd") === type);
  if (balance === undefined) return null;
  const { value, currency } = readAmount(balance, `Bal[${type}]`);
  return { amount: signed(value, readCreditDebit(balance, `Bal[${type}]`)), currency, date: dateOf(child(balance, "Dt")) };
}

function signed(value: bigint, indicator: "CRDT" | "DBIT"): bigint {
  return indicator === "DBIT" ? -value : value;
}
