import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { currencyExponent } from "../../../server/config/currencies";
import { clientRate, sourceToTarget, spreadFee, targetToSource } from "../../../server/fx/convert";
import { compareDecimals, divideHalfEven, formatDecimal, parsePositiveDecimal, type Decimal } from "../../../server/fx/decimal";

/**
 * A reference rounding written differently from divideHalfEven: of the two integers around n/d,
 * the nearer one, the even one when both are as near.
 */
function referenceHalfEven(n: bigint, d: bigint): bigint {
  const below = n / d;
  const above = below + 1n;
  const distanceBelow = n - below * d;
  const distanceAbove = above * d - n;
  if (distanceBelow !== distanceAbove) return distanceBelow < distanceAbove ? below : above;
  return below % 2n === 0n ? below : above;
}

/** Exact fractions: the conversion restated in major units, rounded by the reference. */
interface Fraction { n: bigint; d: bigint }
const times = (a: Fraction, b: Fraction): Fraction => ({ n: a.n * b.n, d: a.d * b.d });
const ofDecimal = (value: Decimal): Fraction => ({ n: value.units, d: 10n ** BigInt(value.scale) });
const minorToMajor = (minor: bigint, currency: string): Fraction => ({ n: minor, d: 10n ** BigInt(currencyExponent(currency)) });
const majorToMinor = (major: Fraction, currency: string): bigint => referenceHalfEven(major.n * 10n ** BigInt(currencyExponent(currency)), major.d);
const exponentsOf = (source: string, target: string) => ({ source: currencyExponent(source), target: currencyExponent(target) });

const CURRENCIES = ["GBP", "JPY", "BHD"] as const; // exponents 2, 0, 3
const currency = fc.constantFrom(...CURRENCIES);
/** Rates from 10^-8 to 10^10 with up to 18 significant digits, as a provider would post them. */
const rate = fc
  .record({ units: fc.bigInt({ min: 1n, max: 10n ** 18n - 1n }), scale: fc.integer({ min: 0, max: 26 }) })
  .map(({ units, scale }) => parsePositiveDecimal(formatDecimal({ units, scale }))!)
  .filter((value) => value !== undefined && compareDecimals(value, { units: 1n, scale: 8 }) >= 0 && compareDecimals(value, { units: 10n ** 10n, scale: 0 }) <= 0);
const amount = fc.bigInt({ min: 1n, max: (1n << 128n) - 1n });

describe("FX arithmetic: exact decimals and half-even conversion between minor units", () => {
  describe("decimals", () => {
    it("reads positive decimal strings exactly and writes them back in their shortest spelling", () => {
      expect(parsePositiveDecimal("187.25")).to.deep.equal({ units: 18725n, scale: 2 });
      expect(parsePositiveDecimal("1.2345678")).to.deep.equal({ units: 12345678n, scale: 7 });
      expect(parsePositiveDecimal("0.10")).to.deep.equal({ units: 1n, scale: 1 });
      expect(parsePositiveDecimal("100")).to.deep.equal({ units: 100n, scale: 0 });
      expect(formatDecimal({ units: 49n, scale: 4 })).to.equal("0.0049");
      expect(parsePositiveDecimal("123456789012345678")).to.not.equal(undefined);
      expect(parsePositiveDecimal("0.000000000000000000123456789012345678")).to.not.equal(undefined);
    });

    it("refuses zero, signs, exponents, leading zeros, bare points and more than 18 significant digits", () => {
      for (const text of ["0", "0.000", "-1", "+1", "1e5", "01.5", ".5", "5.", "1,5", " 1", "NaN", "Infinity", "0x10", "1234567890123456789", "1.234567890123456789"]) {
        expect(parsePositiveDecimal(text), text).to.equal(undefined);
      }
    });

    it("round-trips any decimal through its text", () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 1n, max: 10n ** 18n - 1n }), fc.integer({ min: 0, max: 30 }), (units, scale) => {
          const text = formatDecimal({ units, scale });
          const parsed = parsePositiveDecimal(text)!;
          expect(compareDecimals(parsed, { units, scale })).to.equal(0);
          expect(formatDecimal(parsed)).to.equal(text.includes(".") ? text.replace(/\.?0+$/, "") : text);
        }),
      );
    });
  });

  describe("half-even division", () => {
    it("agrees with the reference rounding for any non-negative fraction", () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 1n << 160n }), fc.bigInt({ min: 1n, max: 1n << 80n }), (n, d) => {
          expect(divideHalfEven(n, d)).to.equal(referenceHalfEven(n, d));
        }),
        { numRuns: 2000 },
      );
    });

    it("sends ties to the even neighbour", () => {
      expect([1n, 3n, 5n, 7n, 9n].map((n) => divideHalfEven(n, 2n))).to.deep.equal([0n, 2n, 2n, 4n, 4n]);
      expect(divideHalfEven(25n, 10n)).to.equal(2n);
      expect(divideHalfEven(35n, 10n)).to.equal(4n);
      expect(divideHalfEven(26n, 10n)).to.equal(3n);
      expect(divideHalfEven(24n, 10n)).to.equal(2n);
    });
  });

  describe("conversion between currencies of 0, 2 and 3 decimals", () => {
    it("GBP → JPY: pence to yen, ties to even", () => {
      const rate150 = parsePositiveDecimal("150")!;
      const gbpJpy = exponentsOf("GBP", "JPY");
      expect(sourceToTarget(1n, rate150, gbpJpy)).to.equal(2n); // 1.5 yen
      expect(sourceToTarget(3n, rate150, gbpJpy)).to.equal(4n); // 4.5 yen
      expect(sourceToTarget(5n, rate150, gbpJpy)).to.equal(8n); // 7.5 yen
      expect(sourceToTarget(245_000n, parsePositiveDecimal("187.25")!, gbpJpy)).to.equal(458_762n); // £2,450.00 = ¥458,762.5, a tie: to even
      expect(targetToSource(4n, rate150, gbpJpy)).to.equal(3n); // 2.67p
      expect(targetToSource(3n, parsePositiveDecimal("200")!, gbpJpy)).to.equal(2n); // 1.5p
    });

    it("JPY → BHD: yen to fils", () => {
      const rate = parsePositiveDecimal("0.0025")!;
      const jpyBhd = exponentsOf("JPY", "BHD");
      expect(sourceToTarget(1n, rate, jpyBhd)).to.equal(2n); // 2.5 fils
      expect(sourceToTarget(3n, rate, jpyBhd)).to.equal(8n); // 7.5 fils
      expect(sourceToTarget(10_000n, rate, jpyBhd)).to.equal(25_000n); // BHD 25.000
      expect(targetToSource(5n, rate, jpyBhd)).to.equal(2n); // exactly 2 yen
      expect(targetToSource(7n, rate, jpyBhd)).to.equal(3n); // 2.8 yen, worth 7.5 fils
      expect(targetToSource(6n, rate, jpyBhd)).to.equal(2n); // 2.4 yen, worth only 5 fils: half-even, not a ceiling
      expect(targetToSource(25_000n, rate, jpyBhd)).to.equal(10_000n);
    });

    it("BHD → GBP: fils to pence", () => {
      const rate = parsePositiveDecimal("2.5")!;
      const bhdGbp = exponentsOf("BHD", "GBP");
      expect(sourceToTarget(1n, rate, bhdGbp)).to.equal(0n); // 0.25p
      expect(sourceToTarget(2n, rate, bhdGbp)).to.equal(0n); // 0.5p, a tie
      expect(sourceToTarget(6n, rate, bhdGbp)).to.equal(2n); // 1.5p, a tie
      expect(sourceToTarget(1_000n, rate, bhdGbp)).to.equal(250n); // BHD 1 = £2.50
      expect(targetToSource(1n, rate, bhdGbp)).to.equal(4n);
    });

    it("source → target agrees with the reference over exact fractions, for amounts up to 2^128 - 1", () => {
      fc.assert(
        fc.property(currency, currency, rate, amount, (source, target, posted, minor) => {
          const expected = majorToMinor(times(minorToMajor(minor, source), ofDecimal(posted)), target);
          expect(sourceToTarget(minor, posted, exponentsOf(source, target))).to.equal(expected);
        }),
        { numRuns: 1000 },
      );
    });

    it("target → source agrees with the reference over exact fractions", () => {
      fc.assert(
        fc.property(currency, currency, rate, amount, (source, target, posted, minor) => {
          const inverse: Fraction = { n: ofDecimal(posted).d, d: posted.units };
          const expected = majorToMinor(times(minorToMajor(minor, target), inverse), source);
          expect(targetToSource(minor, posted, exponentsOf(source, target))).to.equal(expected);
        }),
        { numRuns: 1000 },
      );
    });

    it("a source-amount quote's target plus fee is the amount at the posted rate, and the fee is never negative", () => {
      fc.assert(
        fc.property(currency, currency, rate, fc.integer({ min: 0, max: 9_999 }), amount, (source, target, posted, spreadBps, minor) => {
          const exponents = exponentsOf(source, target);
          const client = clientRate(posted, spreadBps);
          const fee = spreadFee(minor, posted, client, exponents);
          expect(fee >= 0n).to.equal(true);
          expect(sourceToTarget(minor, client, exponents) + fee).to.equal(sourceToTarget(minor, posted, exponents));
        }),
        { numRuns: 500 },
      );
    });

    it("takes the spread off the posted rate exactly", () => {
      expect(formatDecimal(clientRate(parsePositiveDecimal("187.25")!, 25))).to.equal("186.781875");
      expect(formatDecimal(clientRate(parsePositiveDecimal("2")!, 0))).to.equal("2");
      expect(clientRate(parsePositiveDecimal("2")!, 10_000).units).to.equal(0n);
    });
  });

  it("uses no floating point: no Number(), parseFloat, toFixed or Math rounding in server/fx", () => {
    const folder = path.join(__dirname, "../../../server/fx");
    for (const file of readdirSync(folder)) {
      const text = readFileSync(path.join(folder, file), "utf8");
      expect(text, file).to.not.match(/\bNumber\(|parseFloat|parseInt|toFixed|Math\.(round|floor|ceil|pow|trunc)/);
    }
  });
});
