import { expect } from "chai";
import { parsePacs008, type Pacs008TransactionResult } from "../../../server/iso20022/pacs008";
import { creditTransfer, expectIsoError, pacs008Document, readSample, UETR, type TransferSpec } from "./fixtures";

const OTHER_UETR = "174c245f-2682-4291-ad67-2a41e530cd27";

function onlyResult(spec: TransferSpec): Pacs008TransactionResult {
  const { transactions } = parsePacs008(pacs008Document([creditTransfer(spec)]));
  expect(transactions).to.have.length(1);
  return transactions[0];
}

describe("server/iso20022/pacs008", () => {
  it("reads a bare Document of every supported variant, .001.08 to .001.12", () => {
    for (const variant of ["08", "09", "10", "11", "12"]) {
      const message = parsePacs008(pacs008Document([creditTransfer()], { variant }));
      expect(message.version).to.equal(`pacs.008.001.${variant}`);
      expect(message.businessHeader).to.equal(null);
      expect(message.transactions[0]).to.deep.include({ ok: true, index: 0 });
    }
  });

  it("refuses the variants before .08 and after .12 as unsupported", () => {
    for (const variant of ["02", "07", "13"]) {
      const error = expectIsoError(() => parsePacs008(pacs008Document([creditTransfer()], { variant })), "unsupported_message");
      expect(error.details).to.deep.equal({ version: `pacs.008.001.${variant}` });
    }
  });

  it("rejects only the bad transaction of three, with its reason and references", () => {
    const message = parsePacs008(
      pacs008Document([creditTransfer(), creditTransfer({ uetr: OTHER_UETR, amount: "0.001" }), creditTransfer({ uetr: "0c2b2c1e-9d6e-4f7a-8b3c-2d1e0f9a8b7c", amount: "99.5" })]),
    );
    expect(message.numberOfTransactions).to.equal(3);
    expect(message.transactions.map((result) => result.ok)).to.deep.equal([true, false, true]);
    expect(message.transactions[1]).to.deep.equal({
      index: 1,
      ok: false,
      reason: "AM12",
      message: 'amount "0.001" is not a valid GBP amount',
      references: { instructionId: "INSTR-1", endToEndId: "E2E-1", transactionId: "TX-1", uetr: OTHER_UETR },
    });
    const third = message.transactions[2];
    expect(third.ok && third.transaction.amount).to.deep.equal({ value: 9950n, currency: "GBP" });
  });

  const rejections: [string, TransferSpec, string][] = [
    ["no UETR", { uetr: null }, "CH21"],
    ["no EndToEndId", { endToEndId: null }, "CH21"],
    ["no IntrBkSttlmAmt", { amount: null }, "CH21"],
    ["an amount without Ccy", { currency: null }, "CH21"],
    ["no debtor agent BIC", { debtorAgent: null }, "CH21"],
    ["no creditor agent BIC", { creditorAgent: null }, "CH21"],
    ["an upper-case UETR", { uetr: UETR.toUpperCase() }, "FF01"],
    ["a version 1 UUID as UETR", { uetr: "7a562c67-ca16-18ba-b074-65581be6f001" }, "FF01"],
    ["an unknown currency", { currency: "XXX" }, "AM03"],
    ["a lower-case currency", { currency: "gbp" }, "AM03"],
    ["too many decimals", { amount: "2450.001" }, "AM12"],
    ["a JPY amount with decimals", { currency: "JPY", amount: "5.0" }, "AM12"],
    ["a negative amount", { amount: "-2450" }, "AM12"],
    ["an exponent", { amount: "2.45E3" }, "AM12"],
    ["a space inside the amount", { amount: "2 450" }, "AM12"],
    ["garbage for an amount", { amount: "lots" }, "AM12"],
    ["a zero amount", { amount: "0.00" }, "AM01"],
    ["a 7-character debtor agent BIC", { debtorAgent: "CBRLGB2" }, "RC01"],
    ["a lower-case creditor agent BIC", { creditorAgent: "rbosgbchxxx" }, "RC01"],
    ["a debtor IBAN with a bad check", { debtorAccount: "GB83WEST12345698765432" }, "AC01"],
    ["a creditor IBAN of the wrong length", { creditorAccount: "DE8937040044053201300" }, "AC01"],
  ];
  for (const [problem, spec, reason] of rejections) {
    it(`rejects a transaction with ${problem} as ${reason}`, () => {
      const result = onlyResult(spec);
      expect(result.ok).to.equal(false);
      expect(!result.ok && result.reason, !result.ok ? result.message : "").to.equal(reason);
    });
  }

  it("names every missing mandatory element in the CH21 message", () => {
    const result = onlyResult({ uetr: null, debtorAgent: null });
    expect(!result.ok && result.message).to.equal("mandatory element missing: PmtId/UETR, DbtrAgt/FinInstnId/BICFI");
  });

  it("rejects the second use of a UETR in one message as DUPL", () => {
    const { transactions } = parsePacs008(pacs008Document([creditTransfer(), creditTransfer()]));
    expect(transactions[0].ok).to.equal(true);
    expect(transactions[1]).to.deep.include({ ok: false, reason: "DUPL" });
  });

  it("reads valid IBANs, an agent without a branch code and joined remittance lines", () => {
    const result = onlyResult({
      debtorAccount: "GB82WEST12345698765432",
      creditorAccount: "DE89370400440532013000",
      creditorAgent: "DEUTDEFF",
      extra: "<RmtInf><Ustrd>INV 1</Ustrd><Ustrd>INV 2</Ustrd></RmtInf>",
    });
    expect(result.ok && result.transaction).to.deep.include({
      creditorAgent: "DEUTDEFF",
      debtor: { name: "S Baldrick", account: "GB82WEST12345698765432" },
      creditor: { name: "A Tate", account: "DE89370400440532013000" },
      remittanceInformation: "INV 1 INV 2",
      transactionId: "TX-1",
    });
  });

  it("takes agents and settlement date from the group header when the transaction has none (older layouts)", () => {
    const groupHeader = `<GrpHdr><MsgId>M</MsgId><CreDtTm>2022-10-20T09:25:00Z</CreDtTm><NbOfTxs>1</NbOfTxs><IntrBkSttlmDt>2022-10-21</IntrBkSttlmDt>
      <InstgAgt><FinInstnId><BIC>CBRLGB2L</BIC></FinInstnId></InstgAgt><InstdAgt><FinInstnId><BICFI>RBOSGBCH</BICFI></FinInstnId></InstdAgt></GrpHdr>`;
    const transfer = creditTransfer().replace("<IntrBkSttlmDt>2022-10-20</IntrBkSttlmDt>", "");
    const [result] = parsePacs008(pacs008Document([transfer], { groupHeader })).transactions;
    expect(result.ok && result.transaction).to.deep.include({ instructingAgent: "CBRLGB2L", instructedAgent: "RBOSGBCH", interbankSettlementDate: "2022-10-21" });
  });

  it("refuses a message without group header, message id or creation time (missing_element)", () => {
    const withoutGroupHeader = pacs008Document([creditTransfer()], { groupHeader: "" });
    expect(expectIsoError(() => parsePacs008(withoutGroupHeader), "missing_element").details).to.deep.equal({ element: "GrpHdr" });
    const withoutMessageId = pacs008Document([creditTransfer()], { groupHeader: "<GrpHdr><CreDtTm>2022-10-20T09:25:00Z</CreDtTm></GrpHdr>" });
    expect(expectIsoError(() => parsePacs008(withoutMessageId), "missing_element").details).to.deep.equal({ element: "GrpHdr/MsgId" });
    const withoutCreation = pacs008Document([creditTransfer()], { groupHeader: "<GrpHdr><MsgId>M</MsgId><CreDtTm/></GrpHdr>" });
    expect(expectIsoError(() => parsePacs008(withoutCreation), "missing_element").details).to.deep.equal({ element: "GrpHdr/CreDtTm" });
  });

  it("refuses a message without transactions, or whose NbOfTxs disagrees", () => {
    expectIsoError(() => parsePacs008(pacs008Document([])), "missing_element");
    const groupHeader = "<GrpHdr><MsgId>M</MsgId><CreDtTm>2022-10-20T09:25:00Z</CreDtTm><NbOfTxs>2</NbOfTxs></GrpHdr>";
    const error = expectIsoError(() => parsePacs008(pacs008Document([creditTransfer()], { groupHeader })), "invalid_element");
    expect(error.details).to.deep.equal({ element: "GrpHdr/NbOfTxs", declared: "2", found: 1 });
  });

  it("refuses a Document whose body is not a credit transfer", () => {
    const xml = pacs008Document([creditTransfer()]).replace(/FIToFICstmrCdtTrf/g, "FIToFIPmtStsRpt");
    expect(expectIsoError(() => parsePacs008(xml), "missing_element").details).to.deep.equal({ element: "FIToFICstmrCdtTrf" });
  });

  it("refuses other messages as unsupported_message", () => {
    const error = expectIsoError(() => parsePacs008(readSample("cbpr-c105-camt053-BtoA.xml")), "unsupported_message");
    expect(error.details).to.deep.equal({ expected: ["pacs.008"], version: "camt.053.001.08" });
    expectIsoError(() => parsePacs008(readSample("cbpr-p212-pacs002-DtoC.xml")), "unsupported_message");
  });

  it("keeps identifiers as text: leading zeros and decimals are never numbers", () => {
    const groupHeader = "<GrpHdr><MsgId>00123</MsgId><CreDtTm>2022-10-20T09:25:00Z</CreDtTm><NbOfTxs>01</NbOfTxs></GrpHdr>";
    const transfer = creditTransfer({ endToEndId: "0000042", amount: "0002450.10" });
    const message = parsePacs008(pacs008Document([transfer], { groupHeader }));
    expect(message.messageId).to.equal("00123");
    expect(message.numberOfTransactions).to.equal(1);
    const [result] = message.transactions;
    expect(result.ok && result.transaction).to.deep.include({ endToEndId: "0000042", amount: { value: 245010n, currency: "GBP" } });
  });
});
