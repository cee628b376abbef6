import { expect } from "chai";
import fc from "fast-check";
import { decimalToMinorUnits, minorUnitsToDecimal } from "../../../server/iso20022/amounts";
import { expectIsoError } from "./fixtures";

describe("server/iso20022/amounts", () => {
  it("converts ISO decimal text to exact minor units", () => {
    expect(decimalToMinorUnits("2450", "GBP")).to.equal(245000n);
    expect(decimalToMinorUnits("2450.1", "GBP")).to.equal(245010n);
    expect(decimalToMinorUnits("2450.10", "GBP")).to.equal(245010n);
    expect(decimalToMinorUnits("0002450.10", "GBP")).to.equal(245010n);
    expect(decimalToMinorUnits("0.01", "GBP")).to.equal(1n);
    expect(decimalToMinorUnits("0", "GBP")).to.equal(0n);
    expect(decimalToMinorUnits("5", "JPY")).to.equal(5n);
    expect(decimalToMinorUnits("1.234", "BHD")).to.equal(1234n);
    expect(decimalToMinorUnits("999999999999999999", "JPY")).to.equal(999_999_999_999_999_999n);
    expect(decimalToMinorUnits("9999999999999999.99", "GBP")).to.equal(999_999_999_999_999_999n);
  });

  const refusals: [string, string, string][] = [
    ["0.001", "GBP", "too_many_decimals"],
    ["5.0", "JPY", "too_many_decimals"],
    ["1.2340", "BHD", "too_many_decimals"],
    ["-5", "GBP", "not_a_decimal"],
    ["+5", "GBP", "not_a_decimal"],
    ["1e3", "GBP", "not_a_decimal"],
    ["2 450", "GBP", "not_a_decimal"],
    [" 2450", "GBP", "not_a_decimal"],
    ["2450.", "GBP", "not_a_decimal"],
    [".5", "GBP", "not_a_decimal"],
    ["2,450.00", "GBP", "not_a_decimal"],
    ["0x10", "GBP", "not_a_decimal"],
    ["", "GBP", "not_a_decimal"],
    ["１２", "GBP", "not_a_decimal"],
    ["1000000000000000000", "JPY", "too_many_digits"],
    ["10", "XXX", "unknown_currency"],
    ["10", "gbp", "unknown_currency"],
  ];
  for (const [text, currency, problem] of refusals) {
    it(`refuses ${JSON.stringify(text)} ${currency} (${problem})`, () => {
      const error = expectIsoError(() => decimalToMinorUnits(text, currency), "invalid_element");
      expect(error.details).to.deep.equal({ problem, value: text, currency });
    });
  }

  it("writes minor units as decimal text in the currency's exponent", () => {
    expect(minorUnitsToDecimal(245000n, "GBP")).to.equal("2450.00");
    expect(minorUnitsToDecimal(1n, "GBP")).to.equal("0.01");
    expect(minorUnitsToDecimal(0n, "GBP")).to.equal("0.00");
    expect(minorUnitsToDecimal(-1050n, "GBP")).to.equal("-10.50");
    expect(minorUnitsToDecimal(2450n, "JPY")).to.equal("2450");
    expect(minorUnitsToDecimal(5n, "BHD")).to.equal("0.005");
    expectIsoError(() => minorUnitsToDecimal(1n, "XXX"), "invalid_element");
  });

  for (const [currency, exponent] of [["JPY", 0], ["GBP", 2], ["BHD", 3]] as const) {
    it(`round-trips every amount through decimal text in ${currency} (exponent ${exponent})`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }), (value) => {
          expect(decimalToMinorUnits(minorUnitsToDecimal(value, currency), currency)).to.equal(value);
        }),
      );
    });

    it(`reads any decimal with at most ${exponent} fraction digits exactly in ${currency}`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.nat({ max: exponent }), fc.nat({ max: 999 }), (whole, digits, fraction) => {
          const fractionText = String(fraction % 10 ** digits).padStart(digits, "0");
          const text = digits === 0 ? `${whole}` : `${whole}.${fractionText}`;
          const expected = whole * 10n ** BigInt(exponent) + BigInt(fraction % 10 ** digits) * 10n ** BigInt(exponent - digits);
          expect(decimalToMinorUnits(text, currency)).to.equal(expected);
        }),
      );
    });
  }
});
