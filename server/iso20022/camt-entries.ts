import { IsoMessageError } from "./errors";
import { agentBic, dateOf, readAmount, readCreditDebit, type Money } from "./fields";
import { child, children, text, type XmlTree } from "./tree";

export interface EntryTransaction {
  uetr: string | null;
  /** Null also when the bank wrote NOTPROVIDED. */
  endToEndId: string | null;
  instructionId: string | null;
  transactionId: string | null;
  acctSvcrRef: string | null;
  amount: Money | null;
  /** The other bank: see `counterpartyOf`. */
  counterpartyBic: string | null;
}

export interface StatementEntry {
  entryRef: string | null;
  acctSvcrRef: string | null;
  amount: Money;
  creditDebit: "CRDT" | "DBIT";
  /** BOOK, PDNG or INFO. */
  status: string;
  bookingDate: string | null;
  valueDate: string | null;
  reversal: boolean;
  /** "Domain/Family/SubFamily" (e.g. "PMNT/ICDT/XBCT"), or "Prtry:<code>". */
  bankTransactionCode: string | null;
  isCharge: boolean;
  transactions: EntryTransaction[];
}

/** Sub-family codes for charges and commission in the ISO bank transaction code list. */
const CHARGE_SUBFAMILIES = new Set(["CHRG", "COMM"]);
/** Proprietary codes banks carry over from SWIFT MT940 for charges and commission. */
const CHARGE_PROPRIETARY = new Set(["CHRG", "NCHG", "NCOM"]);
const NOT_PROVIDED = "NOTPROVIDED";

/** Reads the statement's Ntry elements, in order. */
export function readEntries(entries: XmlTree[], servicerBic: string | null): StatementEntry[] {
  return entries.map((entry, index) => readEntry(entry, `Ntry[${index}]`, servicerBic));
}

function readEntry(entry: XmlTree, where: string, servicerBic: string | null): StatementEntry {
  const creditDebit = readCreditDebit(entry, where);
  const { bankTransactionCode, isCharge } = transactionCodeOf(child(entry, "BkTxCd"));
  const details = children(entry, "NtryDtls").flatMap((block) => children(block, "TxDtls"));
  return {
    entryRef: text(entry, "NtryRef"),
    acctSvcrRef: text(entry, "AcctSvcrRef"),
    amount: readAmount(entry, where),
    creditDebit,
    status: entryStatus(entry, where),
    bookingDate: dateOf(child(entry, "BookgDt")),
    valueDate: dateOf(child(entry, "ValDt")),
    reversal: ["true", "1"].includes(text(entry, "RvslInd") ?? ""),
    bankTransactionCode,
    isCharge,
    transactions: details.map((detail, index) => readTransactionDetails(detail, `${where}/TxDtls[${index}]`, creditDebit, servicerBic)),
  };
}

/** The status was a plain code until the .001.08 variants made it a Cd/Prtry choice. */
function entryStatus(entry: XmlTree, where: string): string {
  const status = text(entry, "Sts", "Cd") ?? text(entry, "Sts", "Prtry") ?? text(entry, "Sts");
  if (status === null) throw new IsoMessageError("missing_element", `${where}/Sts is missing`, { element: `${where}/Sts` });
  return status;
}

function transactionCodeOf(code: XmlTree): { bankTransactionCode: string | null; isCharge: boolean } {
  const domain = text(code, "Domn", "Cd");
  if (domain !== null) {
    const family = text(code, "Domn", "Fmly", "Cd");
    const subFamily = text(code, "Domn", "Fmly", "SubFmlyCd");
    return {
      bankTransactionCode: [domain, family, subFamily].filter((part) => part !== null).join("/"),
      isCharge: subFamily !== null && CHARGE_SUBFAMILIES.has(subFamily),
    };
  }
  const proprietary = text(code, "Prtry", "Cd");
  if (proprietary === null) return { bankTransactionCode: null, isCharge: false };
  return { bankTransactionCode: `Prtry:${proprietary}`, isCharge: CHARGE_PROPRIETARY.has(proprietary) };
}

function readTransactionDetails(detail: XmlTree, where: string, creditDebit: "CRDT" | "DBIT", servicerBic: string | null): EntryTransaction {
  const refs = child(detail, "Refs");
  const endToEndId = text(refs, "EndToEndId");
  const amountPath = child(detail, "Amt") !== undefined ? ["Amt"] : ["AmtDtls", "TxAmt", "Amt"];
  return {
    uetr: text(refs, "UETR"),
    endToEndId: endToEndId === NOT_PROVIDED ? null : endToEndId,
    instructionId: text(refs, "InstrId"),
    transactionId: text(refs, "TxId"),
    acctSvcrRef: text(refs, "AcctSvcrRef"),
    amount: child(detail, ...amountPath) === undefined ? null : readAmount(detail, where, amountPath),
    counterpartyBic: counterpartyOf(child(detail, "RltdAgts"), creditDebit, servicerBic),
  };
}

/**
 * The other bank of the transaction: the creditor's agent for money leaving the account, the
 * debtor's agent for money arriving; if that one is missing or is the account servicer itself
 * (same institution code), the opposite agent; null when neither is another bank.
 */
function counterpartyOf(agents: XmlTree, creditDebit: "CRDT" | "DBIT", servicerBic: string | null): string | null {
  const debtorAgent = agentBic(child(agents, "DbtrAgt"));
  const creditorAgent = agentBic(child(agents, "CdtrAgt"));
  const [likely, other] = creditDebit === "DBIT" ? [creditorAgent, debtorAgent] : [debtorAgent, creditorAgent];
  const isServicer = (bic: string) => servicerBic !== null && bic.slice(0, 8) === servicerBic.slice(0, 8);
  return [likely, other].find((bic): bic is string => bic !== null && !isServicer(bic)) ?? null;
}
