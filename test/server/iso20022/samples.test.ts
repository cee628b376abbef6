import { expect } from "chai";
import { parseCamt } from "../../../server/iso20022/camt";
import { detectMessage } from "../../../server/iso20022/detect";
import { parsePacs002 } from "../../../server/iso20022/pacs002";
import { parsePacs004 } from "../../../server/iso20022/pacs004";
import { parsePacs008 } from "../../../server/iso20022/pacs008";
import { readSample } from "./fixtures";

/** Every public CBPR+ sample in ../shared/iso20022, read without losing a field we model. */
describe("server/iso20022 on the CBPR+ samples", () => {
  it("names every sample from its Document namespace", () => {
    const expected: Record<string, string> = {
      "cbpr-c105-pacs008-AtoB.xml": "pacs.008.001.08",
      "cbpr-c105-camt053-BtoA.xml": "camt.053.001.08",
      "cbpr-c29-pacs008-AtoB.xml": "pacs.008.001.12",
      "cbpr-c54-camt054-BtoA.xml": "camt.054.001.12",
      "cbpr-p212-pacs008-AtoB.xml": "pacs.008.001.12",
      "cbpr-p212-pacs002-DtoC.xml": "pacs.002.001.14",
      "cbpr-p212-pacs004-BtoA.xml": "pacs.004.001.13",
    };
    for (const [file, version] of Object.entries(expected)) {
      expect(detectMessage(readSample(file)), file).to.deep.equal({ type: version.slice(0, 8), version });
    }
  });

  it("c105 pacs.008: GBP 2450 from CBRLGB2L to RBOSGBCH, its UETR and charge bearer", () => {
    const message = parsePacs008(readSample("cbpr-c105-pacs008-AtoB.xml"));
    expect(message).to.deep.include({
      version: "pacs.008.001.08",
      messageId: "pacs008bzmsgid-1",
      creationDateTime: "2022-10-20T09:25:00+00:00",
      numberOfTransactions: 1,
      settlementMethod: "INDA",
      businessHeader: {
        from: "CBRLGB2LXXX",
        to: "RBOSGBCHXXX",
        businessMessageId: "pacs008bzmsgid-1",
        messageDefinitionId: "pacs.008.001.08",
        creationDate: "2022-10-20T09:25:00+00:00",
      },
    });
    expect(message.transactions).to.deep.equal([
      {
        index: 0,
        ok: true,
        transaction: {
          instructionId: "pacs008bzmsgid-1",
          endToEndId: "pacs008EndToEndId-001",
          transactionId: null,
          uetr: "7a562c67-ca16-48ba-b074-65581be6f001",
          amount: { value: 245000n, currency: "GBP" },
          interbankSettlementDate: "2022-10-20",
          chargeBearer: "DEBT",
          instructingAgent: "CBRLGB2LXXX",
          instructedAgent: "RBOSGBCHXXX",
          debtorAgent: "CBRLGB2LXXX",
          creditorAgent: "DEUTDEFFXXX",
          debtor: { name: "S Baldrick", account: "25698745" },
          creditor: { name: "A Tate", account: "65479512" },
          remittanceInformation: null,
        },
      },
    ]);
  });

  it("c29 pacs.008 (.001.12, default namespaces): RON 591636 from MYMBGB2L to GEBABEBB", () => {
    const message = parsePacs008(readSample("cbpr-c29-pacs008-AtoB.xml"));
    expect(message).to.deep.include({ version: "pacs.008.001.12", messageId: "pcs008bzmsgidr-1", numberOfTransactions: 1 });
    expect(message.businessHeader).to.deep.include({ from: "MYMBGB2LXXX", to: "INGBROBUXXX", messageDefinitionId: "pacs.008.001.08" });
    const [result] = message.transactions;
    expect(result.ok && result.transaction).to.deep.equal({
      ...{ instructionId: "pcs008bzmsgidr-1", endToEndId: "E2E04044506271305", transactionId: null, uetr: "174c245f-2682-4291-ad67-2a41e530cd27" },
      ...{ amount: { value: 59_163_600n, currency: "RON" }, interbankSettlementDate: "2022-10-20", chargeBearer: "DEBT", remittanceInformation: null },
      ...{ instructingAgent: "MYMBGB2LXXX", instructedAgent: "INGBROBUXXX", debtorAgent: "MYMBGB2LXXX", creditorAgent: "GEBABEBBXXX" },
      ...{ debtor: { name: "Debtor Co", account: "25698745" }, creditor: { name: "Ardent Finance", account: "65479512" } },
    });
  });

  it("p212 pacs.008: USD 136500 from CHASGB2L to HNBAUS51", () => {
    const [result] = parsePacs008(readSample("cbpr-p212-pacs008-AtoB.xml")).transactions;
    expect(result.ok && result.transaction).to.deep.equal({
      ...{ instructionId: "A2B0506272708", endToEndId: "E2E04044506271305", transactionId: null, uetr: "174c245f-2682-4291-ad67-2a41e530cd27" },
      ...{ amount: { value: 13_650_000n, currency: "USD" }, interbankSettlementDate: "2021-05-11", chargeBearer: "SHAR", remittanceInformation: null },
      ...{ instructingAgent: "CHASGB2LXXX", instructedAgent: "CHASUS33XXX", debtorAgent: "CHASGB2LXXX", creditorAgent: "HNBAUS51XXX" },
      // the sample's trailing space in "GB Engineering " is trimmed like all text
      ...{ debtor: { name: "GB Engineering", account: "96325874" }, creditor: { name: "US Engines", account: "254178963" } },
    });
  });

  it("c105 camt.053: the 2450 debit and the separate 10 CHRG debit both carry the UETR; balances signed", () => {
    const message = parseCamt(readSample("cbpr-c105-camt053-BtoA.xml"));
    expect(message).to.deep.include({ kind: "camt.053", version: "camt.053.001.08", messageId: "cmt053bizmsgidr-001", creationDateTime: "2022-10-20T12:00:00+02:00" });
    const [statement] = message.statements;
    expect(message.statements).to.have.length(1);
    expect(statement).to.deep.include({
      statementId: "100-01",
      accountId: "48751258",
      accountCurrency: "GBP",
      servicerBic: null,
      openingBalance: { amount: -1000n, currency: "GBP", date: "2022-10-20" },
      closingBalance: { amount: -247000n, currency: "GBP", date: "2022-10-20" },
    });
    const references = { uetr: "7a562c67-ca16-48ba-b074-65581be6f001", endToEndId: "pacs008EndToEndId-001", instructionId: "pacs008bzmsgid-1", acctSvcrRef: null, counterpartyBic: null };
    const booked = { creditDebit: "DBIT", status: "BOOK", bookingDate: null, valueDate: "2022-10-20", reversal: false, entryRef: null };
    expect(statement.entries).to.deep.equal([
      {
        ...booked,
        acctSvcrRef: "ABKREF-125646",
        amount: { value: 245000n, currency: "GBP" },
        bankTransactionCode: "PMNT/ICDT/XBCT",
        isCharge: false,
        transactions: [{ ...references, transactionId: null, amount: { value: 245000n, currency: "GBP" } }],
      },
      {
        ...booked,
        acctSvcrRef: "ABCREF-125678",
        amount: { value: 1000n, currency: "GBP" },
        bankTransactionCode: "PMNT/ICDT/CHRG",
        isCharge: true,
        transactions: [{ ...references, transactionId: "camt105chrgid1", amount: { value: 1000n, currency: "GBP" } }],
      },
    ]);
  });

  it("c54 camt.054: one JPY debit notification, without balances", () => {
    const message = parseCamt(readSample("cbpr-c54-camt054-BtoA.xml"));
    expect(message).to.deep.include({ kind: "camt.054", version: "camt.054.001.12", messageId: "cmt054bizmsgidr-001", creationDateTime: "2020-08-06T20:00:47+09:00" });
    expect(message.statements).to.deep.equal([
      {
        statementId: "cmt054NtfctnId-001",
        accountId: "AWA15457",
        accountCurrency: "JPY",
        servicerBic: null,
        ownerBic: null,
        electronicSequence: null,
        fromDate: null,
        toDate: null,
        createdAt: null,
        openingBalance: null,
        closingBalance: null,
        entries: [
          {
            entryRef: "cmt054NtryRef001",
            acctSvcrRef: null,
            amount: { value: 165_486_600n, currency: "JPY" },
            creditDebit: "DBIT",
            status: "BOOK",
            bookingDate: null,
            valueDate: "2020-08-06",
            reversal: false,
            bankTransactionCode: "PMNT/ICDT/XBCT",
            isCharge: false,
            transactions: [
              {
                uetr: "8a562c67-ca16-48ba-b074-65581be6f001",
                endToEndId: "pacs008EndToEndId-001",
                instructionId: "pacs9bizmsgidr01",
                transactionId: null,
                acctSvcrRef: null,
                amount: { value: 165_486_600n, currency: "JPY" },
                counterpartyBic: null,
              },
            ],
          },
        ],
      },
    ]);
  });

  it("p212 pacs.002: the rejection with reason AC04 and the original references", () => {
    expect(parsePacs002(readSample("cbpr-p212-pacs002-DtoC.xml"))).to.deep.equal({
      version: "pacs.002.001.14",
      messageId: "P2D2C2007",
      creationDateTime: "2021-05-11T11:43:41.960+05:00",
      originalMessageId: "C2D0506272708",
      originalMessageNameId: "pacs.008.001.08",
      originalCreationDateTime: null,
      groupStatus: null,
      transactions: [
        {
          originalInstructionId: "C2D0506272708",
          originalEndToEndId: "E2E04044506271305",
          originalTransactionId: null,
          originalUetr: "174c245f-2682-4291-ad67-2a41e530cd27",
          status: "RJCT",
          reason: "AC04",
          additionalInformation: null,
          instructingAgent: "HNBAUS51XXX",
          instructedAgent: "ANBTUS44XXX",
        },
      ],
    });
  });

  it("p212 pacs.004: the return of USD 1364.80 with reason AC04; no RtrId, so the message id names it", () => {
    expect(parsePacs004(readSample("cbpr-p212-pacs004-BtoA.xml"))).to.deep.equal({
      version: "pacs.004.001.13",
      messageId: "P4B2A-006",
      creationDateTime: "2021-05-11T12:03:41.960+05:00",
      transactions: [
        {
          returnId: "P4B2A-006",
          originalMessageId: "A2B0506272708",
          originalMessageNameId: "pacs.008.001.08",
          originalInstructionId: "A2B0506272708",
          originalEndToEndId: "E2E04044506271305",
          originalTransactionId: null,
          originalUetr: "174c245f-2682-4291-ad67-2a41e530cd27",
          returnedAmount: { value: 13_648_000n, currency: "USD" },
          settlementDate: "2021-05-11",
          reason: "AC04",
          additionalInformation: null,
          instructingAgent: "CHASUS33XXX",
          instructedAgent: "CHASGB2LXXX",
        },
      ],
    });
  });
});
