import { expect } from "chai";
import { isUuidV4, isValidBic, isValidIban } from "../../../server/iso20022/identifiers";

describe("server/iso20022/identifiers", () => {
  it("accepts 8- and 11-character BICs and refuses other shapes", () => {
    for (const bic of ["CBRLGB2L", "CBRLGB2LXXX", "RBOSGBCHXXX", "DEUTDEFF500", "AWABJPJT", "1234GB22"]) expect(isValidBic(bic), bic).to.equal(true);
    for (const bic of ["", "CBRLGB2", "CBRLGB2LX", "CBRLGB2LXX", "CBRLGB2LXXXX", "cbrlgb2lxxx", "CBRL1B2LXXX", "CBRL GB2L", "CBRLGB2L-XX"]) {
      expect(isValidBic(bic), bic).to.equal(false);
    }
  });

  it("accepts IBANs with their country's length and a good mod-97 check", () => {
    for (const iban of ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300", "BE68539007547034", "NO9386011117947", "CH9300762011623852957"]) {
      expect(isValidIban(iban), iban).to.equal(true);
    }
  });

  it("refuses IBANs with a bad check, length, country, case or spacing", () => {
    for (const iban of ["GB83WEST12345698765432", "GB82WEST1234569876543", "GB82WEST123456987654321", "XX82WEST12345698765432", "gb82west12345698765432", "GB82 WEST 1234 5698 7654 32", "", "GB82"]) {
      expect(isValidIban(iban), iban).to.equal(false);
    }
  });

  it("recognises lower-case UUID v4 only", () => {
    expect(isUuidV4("7a562c67-ca16-48ba-b074-65581be6f001")).to.equal(true);
    expect(isUuidV4("7A562C67-CA16-48BA-B074-65581BE6F001")).to.equal(false);
    expect(isUuidV4("7a562c67-ca16-18ba-b074-65581be6f001")).to.equal(false);
    expect(isUuidV4("7a562c67-ca16-48ba-7074-65581be6f001")).to.equal(false);
    expect(isUuidV4("7a562c67ca1648bab07465581be6f001")).to.equal(false);
  });
});
