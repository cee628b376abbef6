import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * ISO 20022 messages for tests: the CBPR+ samples in ../shared/iso20022/ as published, and small
 * messages of our own built field by field (so that one test can vary one element).
 */

/** The samples live beside the repository (../shared/iso20022); ISO20022_SAMPLES_DIR points elsewhere. */
export const SAMPLES_DIR = process.env.ISO20022_SAMPLES_DIR ?? path.resolve(__dirname, "../../../shared/iso20022");

export function sample(file: string): string {
  return readFileSync(path.join(SAMPLES_DIR, file), "utf8");
}

export const C105 = {
  uetr: "7a562c67-ca16-48ba-b074-65581be6f001",
  debtorAgent: "CBRLGB2LXXX",
  /** The CdtrAgt (RBOSGBCH, to whom CBRLGB2L sends the message, is the instructed agent). */
  creditorAgent: "DEUTDEFFXXX",
  valueDate: "2022-10-20",
  pacs008: () => sample("cbpr-c105-pacs008-AtoB.xml"),
  camt053: () => sample("cbpr-c105-camt053-BtoA.xml"),
};

export interface CreditTransfer {
  uetr?: string;
  endToEndId?: string;
  amount: string;
  currency: string;
  debtorAgent: string;
  creditorAgent: string;
  debtorIban?: string;
  creditorIban?: string;
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const bic = (element: string, value: string) => `<${element}><FinInstnId><BICFI>${escape(value)}</BICFI></FinInstnId></${element}>`;

/** A pacs.008.001.08 with one CdtTrfTxInf per transfer. */
export function pacs008(transfers: CreditTransfer[], options: { messageId?: string; version?: string } = {}): string {
  const version = options.version ?? "08";
  const transactions = transfers.map((t) => {
    const uetr = t.uetr ?? randomUUID();
    return `
    <CdtTrfTxInf>
      <PmtId><InstrId>INSTR-${uetr.slice(0, 8)}</InstrId><EndToEndId>${escape(t.endToEndId ?? `E2E-${uetr.slice(0, 8)}`)}</EndToEndId><TxId>TX-${uetr.slice(0, 8)}</TxId><UETR>${uetr}</UETR></PmtId>
      <IntrBkSttlmAmt Ccy="${escape(t.currency)}">${escape(t.amount)}</IntrBkSttlmAmt>
      <IntrBkSttlmDt>2026-11-21</IntrBkSttlmDt>
      <ChrgBr>SHAR</ChrgBr>
      ${bic("InstgAgt", t.debtorAgent)}
      ${bic("InstdAgt", t.creditorAgent)}
      <Dbtr><Nm>Debtor &amp; Co</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>${escape(t.debtorIban ?? "GB33BUKB20201555555555")}</IBAN></Id></DbtrAcct>
      ${bic("DbtrAgt", t.debtorAgent)}
      ${bic("CdtrAgt", t.creditorAgent)}
      <Cdtr><Nm>Creditor GmbH</Nm></Cdtr>
      <CdtrAcct><Id><IBAN>${escape(t.creditorIban ?? "DE89370400440532013000")}</IBAN></Id></CdtrAcct>
    </CdtTrfTxInf>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.${version}">
  <FIToFICstmrCdtTrf>
    <GrpHdr>
      <MsgId>${escape(options.messageId ?? `MSG-${randomUUID().slice(0, 12)}`)}</MsgId>
      <CreDtTm>2026-11-21T10:00:00Z</CreDtTm>
      <NbOfTxs>${transfers.length}</NbOfTxs>
      <SttlmInf><SttlmMtd>INDA</SttlmMtd></SttlmInf>
    </GrpHdr>${transactions.join("")}
  </FIToFICstmrCdtTrf>
</Document>`;
}

export interface NotifiedEntry {
  amount: string;
  currency: string;
  creditDebit: "CRDT" | "DBIT";
  uetr?: string;
  counterpartyBic: string;
  acctSvcrRef?: string;
  valueDate?: string;
}

/** A camt.054.001.08 notification of entries on one account. */
export function camt054(accountIban: string, entries: NotifiedEntry[], options: { messageId?: string } = {}): string {
  const body = entries.map((e) => {
    const agent = e.creditDebit === "CRDT" ? "DbtrAgt" : "CdtrAgt";
    return `
      <Ntry>
        <Amt Ccy="${e.currency}">${e.amount}</Amt>
        <CdtDbtInd>${e.creditDebit}</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>${e.valueDate ?? "2026-11-21"}</Dt></BookgDt>
        <ValDt><Dt>${e.valueDate ?? "2026-11-21"}</Dt></ValDt>
        <AcctSvcrRef>${e.acctSvcrRef ?? `REF-${randomUUID().slice(0, 8)}`}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>XBCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs>${e.uetr ? `<UETR>${e.uetr}</UETR>` : ""}</Refs>
          <Amt Ccy="${e.currency}">${e.amount}</Amt>
          <CdtDbtInd>${e.creditDebit}</CdtDbtInd>
          <RltdAgts>${bic(agent, e.counterpartyBic)}</RltdAgts>
        </TxDtls></NtryDtls>
      </Ntry>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>${options.messageId ?? `NTF-${randomUUID().slice(0, 12)}`}</MsgId><CreDtTm>2026-11-21T10:00:00Z</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>NTFCTN-${randomUUID().slice(0, 12)}</Id>
      <CreDtTm>2026-11-21T10:00:00Z</CreDtTm>
      <Acct><Id><IBAN>${accountIban}</IBAN></Id></Acct>${body.join("")}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>`;
}
