import { expect } from "chai";
import { parseCamt } from "../../../server/iso20022/camt";
import { expectIsoError, readSample, UETR } from "./fixtures";

/** A camt.053.001.02 statement in the older layout: plain Sts, BIC, AmtDtls, DtTm dates. */
function oldStatement(entries: string, balances = PRCD_AND_CLOSING): string {
  return `<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2022-10-21T06:00:00Z</CreDtTm></GrpHdr>
  <Stmt>
    <Id>S-1</Id><ElctrncSeqNb>42</ElctrncSeqNb><CreDtTm>2022-10-21T05:59:00Z</CreDtTm>
    <FrToDt><FrDtTm>2022-10-20T00:00:00Z</FrDtTm><ToDtTm>2022-10-20T23:59:59Z</ToDtTm></FrToDt>
    <Acct><Id><IBAN>GB82WEST12345698765432</IBAN></Id><Ccy>GBP</Ccy>
      <Ownr><Id><OrgId><BICOrBEI>CBRLGB2L</BICOrBEI></OrgId></Id></Ownr>
      <Svcr><FinInstnId><BIC>RBOSGBCHXXX</BIC></FinInstnId></Svcr></Acct>
    ${balances}
    ${entries}
  </Stmt>
  <Stmt><Id>S-2</Id><Acct><Id><Othr><Id>48751258</Id></Othr></Id></Acct></Stmt>
</BkToCstmrStmt></Document>`;
}

const PRCD_AND_CLOSING = `
  <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">100.5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><DtTm>2022-10-19T23:59:59Z</DtTm></Dt></Bal>
  <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">0</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2022-10-20</Dt></Dt></Bal>`;

const CREDIT_ENTRY = `<Ntry><NtryRef>N-1</NtryRef><Amt Ccy="GBP">2450.10</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd><Sts>PDNG</Sts>
  <BookgDt><DtTm>2022-10-20T14:00:00+01:00</DtTm></BookgDt><ValDt><Dt>2022-10-20</Dt></ValDt><AcctSvcrRef>SVC-1</AcctSvcrRef>
  <BkTxCd><Prtry><Cd>NTRF</Cd><Issr>SWIFT</Issr></Prtry></BkTxCd>
  <NtryDtls><TxDtls><Refs><AcctSvcrRef>SVC-TX-1</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId><UETR>${UETR}</UETR></Refs>
    <AmtDtls><TxAmt><Amt Ccy="GBP">2000.10</Amt></TxAmt></AmtDtls>
    <RltdAgts><DbtrAgt><FinInstnId><BIC>CBRLGB2LXXX</BIC></FinInstnId></DbtrAgt><CdtrAgt><FinInstnId><BIC>RBOSGBCHXXX</BIC></FinInstnId></CdtrAgt></RltdAgts></TxDtls>
    <TxDtls><Refs><EndToEndId>E2E-2</EndToEndId></Refs><RltdAgts><DbtrAgt><FinInstnId><BICFI>RBOSGBCH</BICFI></FinInstnId></DbtrAgt><CdtrAgt><FinInstnId><BICFI>DEUTDEFF</BICFI></FinInstnId></CdtrAgt></RltdAgts></TxDtls>
  </NtryDtls>
  <NtryDtls><TxDtls><Refs><InstrId>I-3</InstrId><TxId>T-3</TxId></Refs><Amt Ccy="GBP">450</Amt></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="GBP">1.5</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BkTxCd><Prtry><Cd>NCHG</Cd></Prtry></BkTxCd></Ntry>`;

describe("server/iso20022/camt", () => {
  it("reads the older camt.053.001.02 layout field by field", () => {
    const message = parseCamt(oldStatement(CREDIT_ENTRY));
    expect(message).to.deep.include({ kind: "camt.053", version: "camt.053.001.02", messageId: "STMT-1", creationDateTime: "2022-10-21T06:00:00Z" });
    const [statement, second] = message.statements;
    expect(statement).to.deep.include({
      statementId: "S-1",
      accountId: "GB82WEST12345698765432",
      accountCurrency: "GBP",
      servicerBic: "RBOSGBCHXXX",
      ownerBic: "CBRLGB2L",
      electronicSequence: "42",
      fromDate: "2022-10-20T00:00:00Z",
      toDate: "2022-10-20T23:59:59Z",
      createdAt: "2022-10-21T05:59:00Z",
      openingBalance: { amount: 10050n, currency: "GBP", date: "2022-10-19" },
      closingBalance: { amount: 0n, currency: "GBP", date: "2022-10-20" },
    });
    const [credit, charge] = statement.entries;
    expect(credit).to.deep.include({
      entryRef: "N-1",
      acctSvcrRef: "SVC-1",
      amount: { value: 245010n, currency: "GBP" },
      creditDebit: "CRDT",
      status: "PDNG",
      bookingDate: "2022-10-20",
      valueDate: "2022-10-20",
      reversal: true,
      bankTransactionCode: "Prtry:NTRF",
      isCharge: false,
    });
    expect(credit.transactions).to.deep.equal([
      // a credit: the debtor's agent is the other bank
      { uetr: UETR, endToEndId: null, instructionId: null, transactionId: null, acctSvcrRef: "SVC-TX-1", amount: { value: 200010n, currency: "GBP" }, counterpartyBic: "CBRLGB2LXXX" },
      // the debtor's agent is the servicer itself, so the creditor's agent is the counterparty
      { uetr: null, endToEndId: "E2E-2", instructionId: null, transactionId: null, acctSvcrRef: null, amount: null, counterpartyBic: "DEUTDEFF" },
      { uetr: null, endToEndId: null, instructionId: "I-3", transactionId: "T-3", acctSvcrRef: null, amount: { value: 45000n, currency: "GBP" }, counterpartyBic: null },
    ]);
    expect(charge).to.deep.include({ status: "BOOK", reversal: false, bankTransactionCode: "Prtry:NCHG", isCharge: true, transactions: [] });
    expect(second).to.deep.include({ statementId: "S-2", accountId: "48751258", accountCurrency: null, openingBalance: null, closingBalance: null, entries: [] });
  });

  it("prefers OPBD to PRCD for the opening balance and signs DBIT balances negative", () => {
    const balances = `${PRCD_AND_CLOSING.replace("<Cd>CLBD</Cd>", "<Cd>ITBD</Cd>")}
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">7</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2022-10-20</Dt></Dt></Bal>`;
    const [statement] = parseCamt(oldStatement("", balances)).statements;
    expect(statement.openingBalance).to.deep.equal({ amount: -700n, currency: "GBP", date: "2022-10-20" });
    expect(statement.closingBalance).to.equal(null);
  });

  it("reads camt.054 notifications of every supported variant, .001.02 to .001.13", () => {
    const sample = readSample("cbpr-c54-camt054-BtoA.xml");
    for (const variant of ["02", "08", "13"]) {
      const message = parseCamt(sample.replace("camt.054.001.12", `camt.054.001.${variant}`));
      expect(message.version).to.equal(`camt.054.001.${variant}`);
      expect(message.statements[0].entries[0].amount).to.deep.equal({ value: 165_486_600n, currency: "JPY" });
    }
    expectIsoError(() => parseCamt(sample.replace("camt.054.001.12", "camt.054.001.01")), "unsupported_message");
    expectIsoError(() => parseCamt(sample.replace("camt.054.001.12", "camt.054.001.14")), "unsupported_message");
  });

  it("refuses other messages, and a camt.054 namespace around a statement body", () => {
    expectIsoError(() => parseCamt(readSample("cbpr-c105-pacs008-AtoB.xml")), "unsupported_message");
    const swapped = readSample("cbpr-c105-camt053-BtoA.xml").replace(/camt\.053\.001\.08/g, "camt.054.001.08");
    expect(expectIsoError(() => parseCamt(swapped), "missing_element").details).to.deep.equal({ element: "BkToCstmrDbtCdtNtfctn" });
  });

  const refusals: [string, string, string, Record<string, unknown>][] = [
    ["an entry amount with too many decimals", CREDIT_ENTRY.replace(">2450.10<", ">2450.101<"), "invalid_element", { element: "Ntry[0]/Amt", problem: "too_many_decimals" }],
    ["an entry in an unknown currency", CREDIT_ENTRY.replace('Ccy="GBP">2450.10', 'Ccy="XXX">2450.10'), "invalid_element", { element: "Ntry[0]/Amt", problem: "unknown_currency" }],
    ["an entry without amount", CREDIT_ENTRY.replace('<Amt Ccy="GBP">2450.10</Amt>', ""), "missing_element", { element: "Ntry[0]/Amt" }],
    ["a credit/debit indicator that is neither", CREDIT_ENTRY.replace("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CR</CdtDbtInd>"), "invalid_element", { element: "Ntry[0]/CdtDbtInd", value: "CR" }],
    ["an entry without status", CREDIT_ENTRY.replace("<Sts>PDNG</Sts>", ""), "missing_element", { element: "Ntry[0]/Sts" }],
    ["a transaction amount that is garbage", CREDIT_ENTRY.replace(">2000.10<", ">2,000.10<"), "invalid_element", { element: "Ntry[0]/TxDtls[0]/AmtDtls/TxAmt/Amt", problem: "not_a_decimal" }],
  ];
  for (const [problem, entries, code, details] of refusals) {
    it(`refuses a statement with ${problem} (${code})`, () => {
      expect(expectIsoError(() => parseCamt(oldStatement(entries)), code as "invalid_element").details).to.deep.include(details);
    });
  }

  it("refuses a statement without account, statement id or group header fields (missing_element)", () => {
    expectIsoError(() => parseCamt(oldStatement("").replace("<Id><Othr><Id>48751258</Id></Othr></Id>", "")), "missing_element");
    expectIsoError(() => parseCamt(oldStatement("").replace("<Id>S-2</Id>", "")), "missing_element");
    expectIsoError(() => parseCamt(oldStatement("").replace("<MsgId>STMT-1</MsgId>", "")), "missing_element");
  });
});
