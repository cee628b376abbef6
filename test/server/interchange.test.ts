import { expect } from "chai";
import type { PaymentStatus } from "../../server/db/schema";
import { isoReasonFor, statusReasonOf, transactionStatusOf } from "../../server/interchange/reasons";

describe("interchange: Corridor's states and refusals in ISO 20022 terms", () => {
  it("reports a payment in flight as ACSP, settled as ACSC, and one that will not settle as RJCT with its reason", () => {
    const reported = (["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED", "CANCELLED", "REFUNDED", "REJECTED"] as PaymentStatus[]).map((status) => [
      status,
      transactionStatusOf(status),
      statusReasonOf(status),
    ]);
    expect(reported).to.deep.equal([
      ["RECEIVED", "ACSP", null],
      ["SUBMITTED", "ACSP", null],
      ["LOCKED", "ACSP", null],
      ["SETTLED", "ACSC", null],
      ["CANCELLED", "RJCT", "CNCL"],
      ["REFUNDED", "RJCT", "TM01"],
      ["REJECTED", "RJCT", "NARR"],
    ]);
  });

  it("names each intake refusal by its ISO reason, NARR where ISO has none", () => {
    expect(isoReasonFor("currency_not_supported")).to.equal("AM03");
    expect(isoReasonFor("unknown_participant")).to.equal("RC01");
    expect(isoReasonFor("limit_exceeded")).to.equal("AM02");
    expect(isoReasonFor("insufficient_funds")).to.equal("AM04");
    expect(isoReasonFor("duplicate_uetr")).to.equal("DUPL");
    expect(isoReasonFor("invalid_expiry")).to.equal("NARR");
  });
});
