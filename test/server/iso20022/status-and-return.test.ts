import { expect } from "chai";
import { XMLValidator } from "fast-xml-parser";
import { detectMessage } from "../../../server/iso20022/detect";
import { buildPacs002, parsePacs002, type StatusReport } from "../../../server/iso20022/pacs002";
import { buildPacs004, parsePacs004, type PaymentReturnMessage, type ReturnEntry } from "../../../server/iso20022/pacs004";
import { expectIsoError, UETR } from "./fixtures";

const HOSTILE = `Tate & <Lyle> "quoted" 'single' ]]> --> 😀`;
const LONG_NARRATIVE = "The creditor account was closed on the first of the month and no forwarding account was given by the customer, so the funds go back to the debtor.";

const REPORT: StatusReport = {
  messageId: "STS-1",
  creationDateTime: "2022-10-20T10:00:00+00:00",
  originalMessageId: "pacs008bzmsgid-1",
  originalMessageNameId: "pacs.008.001.08",
  originalCreationDateTime: "2022-10-20T09:25:00+00:00",
  groupStatus: "PDNG",
  transactions: [
    {
      originalInstructionId: "INSTR-1",
      originalEndToEndId: "E2E-1",
      originalTransactionId: "TX-1",
      originalUetr: UETR,
      status: "RJCT",
      reason: "AM03",
      additionalInformation: HOSTILE,
      instructingAgent: "RBOSGBCHXXX",
      instructedAgent: "CBRLGB2L",
    },
    {
      originalInstructionId: null,
      originalEndToEndId: "E2E-2",
      originalTransactionId: null,
      originalUetr: null,
      status: "ACSC",
      reason: null,
      additionalInformation: null,
      instructingAgent: null,
      instructedAgent: null,
    },
    {
      originalInstructionId: null,
      originalEndToEndId: null,
      originalTransactionId: null,
      originalUetr: "174c245f-2682-4291-ad67-2a41e530cd27",
      status: "RJCT",
      reason: "CORRIDOR-LIMIT",
      additionalInformation: LONG_NARRATIVE,
      instructingAgent: null,
      instructedAgent: null,
    },
  ],
};

const RETURN: ReturnEntry = {
  returnId: "RTR-1",
  originalMessageId: "A2B0506272708",
  originalMessageNameId: "pacs.008.001.08",
  originalInstructionId: "A2B0506272708",
  originalEndToEndId: "E2E04044506271305",
  originalTransactionId: "TX<&\"1",
  originalUetr: "174c245f-2682-4291-ad67-2a41e530cd27",
  returnedAmount: { value: 13_648_000n, currency: "USD" },
  settlementDate: "2021-05-11",
  reason: "AC04",
  additionalInformation: HOSTILE,
  instructingAgent: "CHASUS33XXX",
  instructedAgent: "CHASGB2LXXX",
};

const RETURNS: PaymentReturnMessage = {
  messageId: "P4-1",
  creationDateTime: "2021-05-11T12:03:41.960+05:00",
  transactions: [
    RETURN,
    {
      ...RETURN,
      returnId: "RTR-2",
      originalMessageId: null,
      originalMessageNameId: null,
      originalTransactionId: null,
      returnedAmount: { value: 5n, currency: "JPY" },
      settlementDate: null,
      reason: null,
      additionalInformation: LONG_NARRATIVE,
      instructingAgent: null,
      instructedAgent: null,
    },
  ],
};

describe("server/iso20022 pacs.002 and pacs.004 writing", () => {
  it("writes a well-formed pacs.002.001.10 that reads back equal", () => {
    const xml = buildPacs002(REPORT);
    expect(XMLValidator.validate(xml)).to.equal(true);
    expect(detectMessage(xml)).to.deep.equal({ type: "pacs.002", version: "pacs.002.001.10" });
    expect(parsePacs002(xml)).to.deep.equal({ ...REPORT, version: "pacs.002.001.10" });
  });

  it("writes a report without transactions as a group status that reads back equal", () => {
    const report: StatusReport = { ...REPORT, groupStatus: "RJCT", transactions: [] };
    expect(parsePacs002(buildPacs002(report))).to.deep.equal({ ...report, version: "pacs.002.001.10" });
  });

  it("escapes every user text: no raw markup reaches the output", () => {
    const xml = buildPacs002({ ...REPORT, messageId: `M<&"1` });
    expect(xml).to.not.include(`<&"`);
    expect(xml).to.not.include("<Lyle>");
    expect(xml).to.include("M&lt;&amp;&quot;1");
    expect(parsePacs002(xml).messageId).to.equal(`M<&"1`);
    expect(buildPacs004(RETURNS)).to.include("TX&lt;&amp;&quot;1");
  });

  it("splits long narratives into AddtlInf lines of at most 105 characters", () => {
    const lines = [...buildPacs002(REPORT).matchAll(/<AddtlInf>([^<]*)<\/AddtlInf>/g)].map((match) => match[1]);
    expect(lines.length).to.be.greaterThan(2);
    for (const line of lines) expect([...line].length).to.be.at.most(105);
  });

  it("writes a well-formed pacs.004.001.09 that reads back equal", () => {
    const xml = buildPacs004(RETURNS);
    expect(XMLValidator.validate(xml)).to.equal(true);
    expect(xml).to.include('<RtrdIntrBkSttlmAmt Ccy="USD">136480.00</RtrdIntrBkSttlmAmt>');
    expect(xml).to.include("<NbOfTxs>2</NbOfTxs>");
    expect(parsePacs004(xml)).to.deep.equal({ ...RETURNS, version: "pacs.004.001.09" });
  });

  it("names returns without RtrId by message id and position", () => {
    const xml = buildPacs004(RETURNS).replace(/<RtrId>[^<]*<\/RtrId>/g, "");
    expect(parsePacs004(xml).transactions.map((entry) => entry.returnId)).to.deep.equal(["P4-1/1", "P4-1/2"]);
  });

  const badReports: [string, StatusReport][] = [
    ["a message id over 35 characters", { ...REPORT, messageId: "M".repeat(36) }],
    ["an empty message id", { ...REPORT, messageId: "" }],
    ["a creation time that is not ISO 8601", { ...REPORT, creationDateTime: "20/10/2022 10:00" }],
    ["an upper-case UETR", { ...REPORT, transactions: [{ ...REPORT.transactions[1], originalUetr: UETR.toUpperCase() }] }],
    ["an invalid agent BIC", { ...REPORT, transactions: [{ ...REPORT.transactions[1], instructingAgent: "RBOS" }] }],
    ["a rejection without a reason", { ...REPORT, transactions: [{ ...REPORT.transactions[1], status: "RJCT" }] }],
    ["an unknown status", { ...REPORT, groupStatus: "DONE" as never }],
    ["a control character", { ...REPORT, transactions: [{ ...REPORT.transactions[0], additionalInformation: "bell \u0007" }] }],
  ];
  for (const [problem, report] of badReports) {
    it(`refuses to write a pacs.002 with ${problem}`, () => {
      expectIsoError(() => buildPacs002(report), "invalid_element");
    });
  }

  const badReturns: [string, ReturnEntry][] = [
    ["a zero amount", { ...RETURN, returnedAmount: { value: 0n, currency: "USD" } }],
    ["an unknown currency", { ...RETURN, returnedAmount: { value: 1n, currency: "XXX" } }],
    ["an original message id without its name", { ...RETURN, originalMessageNameId: null }],
    ["a settlement date with a time", { ...RETURN, settlementDate: "2021-05-11T00:00:00Z" }],
  ];
  for (const [problem, entry] of badReturns) {
    it(`refuses to write a pacs.004 with ${problem}`, () => {
      expectIsoError(() => buildPacs004({ ...RETURNS, transactions: [entry] }), "invalid_element");
    });
  }

  it("refuses to read a status report with an unknown status or without original message", () => {
    const xml = buildPacs002(REPORT);
    expectIsoError(() => parsePacs002(xml.replace("<TxSts>ACSC</TxSts>", "<TxSts>DONE</TxSts>")), "invalid_element");
    const withoutOriginal = buildPacs002({ ...REPORT, groupStatus: null }).replace(/<OrgnlGrpInf>[\s\S]*?<\/OrgnlGrpInf>/g, "");
    expectIsoError(() => parsePacs002(withoutOriginal), "missing_element");
    expectIsoError(() => parsePacs004(xml), "unsupported_message");
  });
});
