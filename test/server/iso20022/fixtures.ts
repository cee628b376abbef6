import { expect } from "chai";
import { IsoMessageError, type IsoErrorCode } from "../../../server/iso20022/errors";

export { sample as readSample, SAMPLES_DIR } from "../../support/iso-messages";

/** Runs `action` and returns the IsoMessageError it must throw with `code`. */
export function expectIsoError(action: () => unknown, code: IsoErrorCode): IsoMessageError {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(IsoMessageError);
    expect((error as IsoMessageError).code, (error as Error).message).to.equal(code);
    return error as IsoMessageError;
  }
  throw new Error(`expected an IsoMessageError ${code}, but nothing was thrown`);
}

export const UETR = "7a562c67-ca16-48ba-b074-65581be6f001";

/** One CdtTrfTxInf's variable parts; null leaves the element out. */
export interface TransferSpec {
  uetr?: string | null;
  endToEndId?: string | null;
  amount?: string | null;
  currency?: string | null;
  debtorAgent?: string | null;
  creditorAgent?: string | null;
  debtorAccount?: string;
  creditorAccount?: string;
  extra?: string;
}

const optional = (value: string | null | undefined, xml: (value: string) => string) => (value === null || value === undefined ? "" : xml(value));
const agent = (name: string, bic: string | null | undefined) => optional(bic, (value) => `<${name}><FinInstnId><BICFI>${value}</BICFI></FinInstnId></${name}>`);

/** A CdtTrfTxInf like the c105 sample's, with any part replaced or left out. */
export function creditTransfer(spec: TransferSpec = {}): string {
  const amount = spec.amount === undefined ? "2450" : spec.amount;
  const currency = spec.currency === undefined ? "GBP" : spec.currency;
  return `<CdtTrfTxInf>
    <PmtId><InstrId>INSTR-1</InstrId>${optional(spec.endToEndId === undefined ? "E2E-1" : spec.endToEndId, (id) => `<EndToEndId>${id}</EndToEndId>`)}<TxId>TX-1</TxId>${optional(spec.uetr === undefined ? UETR : spec.uetr, (uetr) => `<UETR>${uetr}</UETR>`)}</PmtId>
    ${optional(amount, (value) => (currency === null ? `<IntrBkSttlmAmt>${value}</IntrBkSttlmAmt>` : `<IntrBkSttlmAmt Ccy="${currency}">${value}</IntrBkSttlmAmt>`))}
    <IntrBkSttlmDt>2022-10-20</IntrBkSttlmDt><ChrgBr>DEBT</ChrgBr>
    ${agent("DbtrAgt", spec.debtorAgent === undefined ? "CBRLGB2LXXX" : spec.debtorAgent)}
    <Dbtr><Nm>S Baldrick</Nm></Dbtr>${optional(spec.debtorAccount, (iban) => `<DbtrAcct><Id><IBAN>${iban}</IBAN></Id></DbtrAcct>`)}
    ${agent("CdtrAgt", spec.creditorAgent === undefined ? "RBOSGBCHXXX" : spec.creditorAgent)}
    <Cdtr><Nm>A Tate</Nm></Cdtr>${optional(spec.creditorAccount, (iban) => `<CdtrAcct><Id><IBAN>${iban}</IBAN></Id></CdtrAcct>`)}
    ${spec.extra ?? ""}
  </CdtTrfTxInf>`;
}

/** A bare pacs.008 Document around the given transactions; the group header can be replaced. */
export function pacs008Document(transactions: string[], options: { variant?: string; groupHeader?: string } = {}): string {
  const groupHeader = options.groupHeader ?? `<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2022-10-20T09:25:00+00:00</CreDtTm><NbOfTxs>${transactions.length}</NbOfTxs><SttlmInf><SttlmMtd>INDA</SttlmMtd></SttlmInf></GrpHdr>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.${options.variant ?? "08"}">
  <FIToFICstmrCdtTrf>${groupHeader}${transactions.join("")}</FIToFICstmrCdtTrf>
</Document>`;
}
